// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/<pid>/fdinfo/<xpoll fd>: one line per item, in interest-tree
 * order, in epoll's format, so tools that parse epoll's fdinfo read ours;
 * then one "uev:" line per user event, in the order added (uevent.c), and
 * for a ring instance a "ring:" line (ring.c).  No
 * kernel pointer is printed.
 */
#include <linux/file.h>
#include <linux/seq_file.h>

#include "xpoll.h"

void xpoll_show_fdinfo(struct seq_file *m, struct file *f)
{
	struct xpoll_instance *ep = f->private_data;
	struct xpoll_item *it;
	struct inode *inode;
	struct rb_node *rbp;
	struct file *file;

	xpoll_stats_show(m, ep);
	mutex_lock(&ep->mtx);
	for (rbp = rb_first_cached(&ep->rbr); rbp; rbp = rb_next(rbp)) {
		it = rb_entry(rbp, struct xpoll_item, rbn);
		/* A file being closed is no longer watched. */
		file = xpoll_item_fget(it);
		if (!file)
			continue;
		inode = file_inode(file);
		seq_printf(m, "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x",
			   it->fd, (__force unsigned int)it->events,
			   (unsigned long long)it->data,
			   (long long)file->f_pos, inode->i_ino,
			   inode->i_sb->s_dev);
		xpoll_item_stats_show(m, it);
		fput(file);
		if (seq_has_overflowed(m))
			break;
	}
	xpoll_uevent_show(m, ep);
	xpoll_ring_show(m, ep);
	mutex_unlock(&ep->mtx);
}
