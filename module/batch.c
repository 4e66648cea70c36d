// SPDX-License-Identifier: GPL-2.0
/*
 * XPOLL_IOC_CTL_BATCH: many XPOLL_IOC_CTL changes in one call, with a
 * result per change.
 *
 * Why: every xpoll call enters through ioctl(), which costs more than
 * epoll_ctl()'s own system call (the LSM file_ioctl hooks, do_vfs_ioctl()
 * and an argument struct to copy in; tools/bench/README.md measures it).
 * A program that changes many interests at once, such as an event loop
 * applying what its handlers asked for before it waits again, pays that
 * entry once per batch instead of once per change.
 *
 * Each change goes through the same code as XPOLL_IOC_CTL (xpoll_ctl_one()
 * in main.c), so checks and errno cannot drift apart, and takes ep->mtx on
 * its own: the batch is not atomic, and a concurrent ctl or wait on the
 * instance may run between two of its changes.  The batch holds no lock
 * across changes, so it adds no lock rule (see xpoll.h).
 *
 * Stops early (uapi/linux/xpoll.h): at a fault reading a change or storing
 * a result, and at a fatal signal, so a killed task does not finish a long
 * batch first.  Other signals do not interrupt it: ctl never sleeps
 * interruptibly.
 */
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include <linux/xpoll.h>
#include "xpoll.h"

long xpoll_ioc_ctl_batch(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_ctl_batch b;
	struct xpoll_ctl __user *uctls;
	struct xpoll_ctl c;
	s32 __user *ures;
	u32 i;
	s32 res;

	if (xpoll_copy_arg(&b, uarg, sizeof(b)))
		return -EFAULT;
	if (b.flags || b.reserved[0] || b.reserved[1] || !b.nr ||
	    b.nr > XPOLL_CTL_BATCH_MAX)
		return -EINVAL;
	uctls = xpoll_u64_to_uptr(b.ctls);
	ures = xpoll_u64_to_uptr(b.results);
	/* Probing results[0] makes "EFAULT" mean "nothing applied". */
	if (!access_ok(uctls, b.nr * sizeof(*uctls)) ||
	    !access_ok(ures, b.nr * sizeof(*ures)) || put_user(0, ures))
		return -EFAULT;

	for (i = 0; i < b.nr; i++) {
		if (i) {
			if (fatal_signal_pending(current))
				break;
			cond_resched();
		}
		if (xpoll_copy_arg(&c, &uctls[i], sizeof(c)))
			break;
		res = xpoll_ctl_one(ep, &c);
		if (put_user(res, &ures[i]))
			break;
	}
	/* i == 0: ctls[0] could not be read (or results[0] was unmapped). */
	return i ? i : -EFAULT;
}
