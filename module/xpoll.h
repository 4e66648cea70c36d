/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpoll internal header.
 */
#ifndef _XPOLL_INTERNAL_H
#define _XPOLL_INTERNAL_H

#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

struct xpoll_instance {
	struct kref ref;
	struct mutex mtx;	/* serialises ctl and event transfer */
	spinlock_t lock;	/* ready list; taken in wake callbacks */
	wait_queue_head_t wq;
	wait_queue_head_t poll_wait;
	struct file *file;
};

extern const struct file_operations xpoll_fops;

struct xpoll_instance *xpoll_instance_alloc(void);
void xpoll_instance_put(struct xpoll_instance *ep);
int xpoll_open(struct inode *inode, struct file *file);
int xpoll_release(struct inode *inode, struct file *file);
__poll_t xpoll_poll(struct file *file, struct poll_table_struct *pt);

#endif /* _XPOLL_INTERNAL_H */
