// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll instances: one per open() of /dev/xpoll.
 */
#include <linux/slab.h>

#include "xpoll.h"

struct xpoll_instance *xpoll_instance_alloc(void)
{
	struct xpoll_instance *ep;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);
	if (!ep)
		return NULL;
	kref_init(&ep->ref);
	mutex_init(&ep->mtx);
	spin_lock_init(&ep->lock);
	init_waitqueue_head(&ep->wq);
	init_waitqueue_head(&ep->poll_wait);
	return ep;
}

static void xpoll_instance_free(struct kref *ref)
{
	kfree(container_of(ref, struct xpoll_instance, ref));
}

void xpoll_instance_put(struct xpoll_instance *ep)
{
	kref_put(&ep->ref, xpoll_instance_free);
}

int xpoll_open(struct inode *inode, struct file *file)
{
	struct xpoll_instance *ep = xpoll_instance_alloc();

	if (!ep)
		return -ENOMEM;
	ep->file = file;
	file->private_data = ep;
	return stream_open(inode, file);
}

int xpoll_release(struct inode *inode, struct file *file)
{
	xpoll_instance_put(file->private_data);
	return 0;
}

__poll_t xpoll_poll(struct file *file, struct poll_table_struct *pt)
{
	struct xpoll_instance *ep = file->private_data;

	poll_wait(file, &ep->poll_wait, pt);
	return 0;
}
