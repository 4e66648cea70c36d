// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll: an alternative eventpoll behind /dev/xpoll.
 *
 * Module init/exit, the misc device, the file operations, the ioctl
 * dispatch (native and compat), the version ioctl and the module
 * parameters.  Every open() of /dev/xpoll is one instance (instance.c);
 * fops.owner pins the module while any instance file exists.
 *
 * Compat: every ioctl struct has one layout for 32- and 64-bit callers
 * (checked below), struct epoll_event is 12 bytes on both x86-64 and
 * i386, so compat_ioctl only converts the argument pointer; the user
 * pointers inside the structs are __u64 for both and used whole
 * (xpoll_u64_to_uptr()).
 */
#include <linux/compat.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include <linux/xpoll.h>
#include "xpoll.h"

static_assert(sizeof(struct xpoll_version) == 32);
static_assert(sizeof(struct xpoll_ctl) == 40);
static_assert(sizeof(struct xpoll_params) == 24);
static_assert(sizeof(struct xpoll_ctl_wait) == 80);
static_assert(offsetof(struct xpoll_ctl_wait, wait) == 24);
static_assert(sizeof(struct xpoll_wait) == 56);
static_assert(offsetof(struct xpoll_wait, timeout_ns) == 16);
static_assert(offsetof(struct xpoll_wait, sigsetsize) == 32);
static_assert(sizeof(struct xpoll_ctl_batch) == 40);
static_assert(sizeof(struct xpoll_stats) == 272);
static_assert(offsetof(struct xpoll_ctl_batch, nr) == 16);
/* xpoll_copy_arg() reads whole 64-bit words. */
static_assert(!(sizeof(struct xpoll_version) % 8) &&
	      !(sizeof(struct xpoll_ctl) % 8) &&
	      !(sizeof(struct xpoll_wait) % 8) &&
	      !(sizeof(struct xpoll_params) % 8) &&
	      !(sizeof(struct xpoll_ctl_wait) % 8) &&
	      !(sizeof(struct xpoll_ctl_batch) % 8));
#ifdef CONFIG_X86_64
static_assert(sizeof(struct epoll_event) == 12);
#endif

/*
 * Per-user limit on items, as epoll's max_user_watches.  Left unset (the
 * default, -1) it is computed at load as epoll computes its own: 4% of low
 * memory divided by the cost of one watch (for xpoll the item, which holds
 * its first wait entry; for epoll an epitem and an eppoll_entry).  A value
 * given, at load or later, must be 0 or more.
 */
unsigned long xpoll_max_user_watches;
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_max_user_watches);
static long max_user_watches = -1;

static int xpoll_param_set_watches(const char *val,
				   const struct kernel_param *kp)
{
	long v;
	int err = kstrtol(val, 0, &v);

	if (err)
		return err;
	if (v < 0)
		return -EINVAL;
	max_user_watches = v;
	WRITE_ONCE(xpoll_max_user_watches, v);
	return 0;
}

static const struct kernel_param_ops xpoll_watches_ops = {
	.set = xpoll_param_set_watches,
	.get = param_get_long,
};
module_param_cb(max_user_watches, &xpoll_watches_ops, &max_user_watches,
		0644);
MODULE_PARM_DESC(max_user_watches,
		 "Maximum xpoll items per user (default: as epoll computes it)");

static void xpoll_default_watches(void)
{
	struct sysinfo si;

	if (max_user_watches >= 0) {
		xpoll_max_user_watches = max_user_watches;
		return;
	}
	si_meminfo(&si);
	max_user_watches = (((si.totalram - si.totalhigh) / 25) << PAGE_SHIFT) /
		sizeof(struct xpoll_item);
	xpoll_max_user_watches = max_user_watches;
}

static long xpoll_ioc_version(void __user *uarg)
{
	struct xpoll_version v;

	if (xpoll_copy_arg(&v, uarg, sizeof(v)))
		return -EFAULT;
	if (v.reserved0 || v.reserved[0] || v.reserved[1])
		return -EINVAL;
	v.abi_version = XPOLL_ABI_VERSION;
	v.features = XPOLL_FEAT_CTL | XPOLL_FEAT_WAIT | XPOLL_FEAT_POLL |
		XPOLL_FEAT_FDINFO | XPOLL_FEAT_CTL_BATCH | XPOLL_FEAT_PARAMS |
		XPOLL_FEAT_CTL_WAIT | XPOLL_FEAT_USER_EVENTS |
		XPOLL_FEAT_MIN_WAIT | XPOLL_FEAT_RING | XPOLL_FEAT_STATS;
	if (copy_to_user(uarg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long xpoll_ioc_ctl(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_ctl c __uninitialized;

	if (xpoll_copy_arg(&c, uarg, sizeof(c)))
		return -EFAULT;
	return xpoll_ctl_one(ep, &c);
}

static long xpoll_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct xpoll_instance *ep = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case XPOLL_IOC_VERSION:
		return xpoll_ioc_version(uarg);
	case XPOLL_IOC_CTL:
		return xpoll_ioc_ctl(ep, uarg);
	case XPOLL_IOC_WAIT:
		return xpoll_ioc_wait(ep, uarg);
	case XPOLL_IOC_CTL_BATCH:
		return xpoll_ioc_ctl_batch(ep, uarg);
	case XPOLL_IOC_CTL_WAIT:
		return xpoll_ioc_ctl_wait(ep, uarg);
	case XPOLL_IOC_RING_SETUP:
		return xpoll_ioc_ring_setup(ep, uarg);
	case XPOLL_IOC_STATS:
		return xpoll_ioc_stats(ep, uarg);
	case XPOLL_IOC_SET_PARAMS:
		return xpoll_ioc_set_params(ep, uarg);
	case XPOLL_IOC_GET_PARAMS:
		return xpoll_ioc_get_params(ep, uarg);
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
	.mmap		= xpoll_mmap,
	.unlocked_ioctl	= xpoll_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= xpoll_compat_ioctl,
#endif
#ifdef CONFIG_PROC_FS
	.show_fdinfo	= xpoll_show_fdinfo,
#endif
	/* As epoll's: lseek() succeeds and returns the position, 0. */
	.llseek		= noop_llseek,
};

static struct miscdevice xpoll_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "xpoll",
	.fops	= &xpoll_fops,
	.mode	= 0666,
};

static int __init xpoll_init(void)
{
	int err;

	xpoll_default_watches();
	err = xpoll_cb_init();
	if (err)
		return err;
	err = xpoll_ctl_init();
	if (err)
		goto out_cb;
	err = xpoll_target_init();
	if (err)
		goto out_ctl;
	xpoll_busy_init();
	err = misc_register(&xpoll_misc);
	if (err)
		goto out_target;
	return 0;

out_target:
	xpoll_busy_exit();
	xpoll_target_exit();
out_ctl:
	xpoll_ctl_exit();
out_cb:
	xpoll_cb_exit();
	return err;
}

static void __exit xpoll_exit(void)
{
	misc_deregister(&xpoll_misc);
	xpoll_busy_exit();
	xpoll_target_exit();
	xpoll_ctl_exit();
	xpoll_cb_exit();
}

module_init(xpoll_init);
module_exit(xpoll_exit);

MODULE_DESCRIPTION("xpoll: an alternative eventpoll behind /dev/xpoll");
MODULE_LICENSE("GPL");
