// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll: an alternative eventpoll behind /dev/xpoll.
 *
 * Module init/exit, the misc device and ioctl dispatch (native and compat).
 */
#include <linux/compat.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include <linux/xpoll.h>
#include "xpoll.h"

static_assert(sizeof(struct xpoll_version) == 32);
static_assert(sizeof(struct xpoll_ctl) == 40);
static_assert(sizeof(struct xpoll_wait) == 56);

static long xpoll_ioc_version(void __user *uarg)
{
	struct xpoll_version v;

	if (copy_from_user(&v, uarg, sizeof(v)))
		return -EFAULT;
	if (v.reserved0 || v.reserved[0] || v.reserved[1])
		return -EINVAL;
	v.abi_version = XPOLL_ABI_VERSION;
	v.features = 0;
	if (copy_to_user(uarg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long xpoll_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case XPOLL_IOC_VERSION:
		return xpoll_ioc_version(uarg);
	default:
		return -ENOTTY;
	}
}

#ifdef CONFIG_COMPAT
static long xpoll_compat_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	return xpoll_ioctl(file, cmd, (unsigned long)compat_ptr(arg));
}
#endif

const struct file_operations xpoll_fops = {
	.owner		= THIS_MODULE,
	.open		= xpoll_open,
	.release	= xpoll_release,
	.poll		= xpoll_poll,
	.unlocked_ioctl	= xpoll_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= xpoll_compat_ioctl,
#endif
	.llseek		= no_llseek,
};

static struct miscdevice xpoll_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "xpoll",
	.fops	= &xpoll_fops,
	.mode	= 0666,
};

static int __init xpoll_init(void)
{
	return misc_register(&xpoll_misc);
}

static void __exit xpoll_exit(void)
{
	misc_deregister(&xpoll_misc);
}

module_init(xpoll_init);
module_exit(xpoll_exit);

MODULE_DESCRIPTION("xpoll: an alternative eventpoll behind /dev/xpoll");
MODULE_LICENSE("GPL");
