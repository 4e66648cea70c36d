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
 * in ctl.c), so checks and errno cannot drift apart, and takes ep->mtx on
 * its own: the batch is not atomic, and a concurrent ctl or wait on the
 * instance may run between two of its changes.  The batch holds no lock
 * across changes, so it adds no lock rule (see xpoll.h).
 *
 * The changes are read XPOLL_BATCH_CHUNK at a time, in one user-access
 * section per chunk (a section is most of the cost of a small copy where
 * STAC/CLAC are expensive, as under TCG); results are stored one by one,
 * each after its change, so the return value keeps its meaning.
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

/* 8 changes: 320 bytes of stack. */
#define XPOLL_BATCH_CHUNK	8

/*
 * Reads up to @n changes; returns how many were read whole (fewer than @n
 * only on a fault).  A misaligned array takes xpoll_copy_arg()'s generic
 * path, one change at a time.
 */
static u32 xpoll_read_ctls(struct xpoll_ctl *dst,
			   const struct xpoll_ctl __user *src, u32 n)
{
	const size_t wpc = sizeof(*dst) / sizeof(u64);	/* words per change */
	u32 i;

	if (!IS_ALIGNED((unsigned long)src, sizeof(u64))) {
		for (i = 0; i < n; i++)
			if (xpoll_copy_arg(&dst[i], &src[i], sizeof(*dst)))
				break;
		return i;
	}
	return xpoll_read_words((u64 *)dst, (const u64 __user *)src,
				n * wpc) / wpc;
}

/*
 * Checks that the change and result arrays of @nr (> 0) changes lie in
 * user space and that results[0] can be written, so that "EFAULT" can
 * mean "nothing applied".
 */
int xpoll_ctls_check(const struct xpoll_ctl __user *uctls,
		     s32 __user *ures, u32 nr)
{
	if (!xpoll_uptr_ok(uctls, nr * sizeof(*uctls)) ||
	    !xpoll_uptr_ok(ures, nr * sizeof(*ures)) || put_user(0, ures))
		return -EFAULT;
	return 0;
}

/*
 * Applies up to @nr changes (checked by xpoll_ctls_check()) and stores
 * their results; returns how many results were stored, and *@applied how
 * many changes were applied: the same, or one more when storing a result
 * faulted after its change (both fewer than @nr at a fault or a fatal
 * signal, 0 if ctls[0] could not be read).  *@failed is set if one of
 * them failed.
 */
u32 xpoll_apply_ctls(struct xpoll_instance *ep,
		     const struct xpoll_ctl __user *uctls, s32 __user *ures,
		     u32 nr, u32 *applied, bool *failed)
{
	/* Only the changes read are used (see xpoll_copy_arg()). */
	struct xpoll_ctl c[XPOLL_BATCH_CHUNK] __uninitialized;
	u32 i, k, got = 0;
	s32 res;

	for (i = 0; i < nr; i++) {
		k = i % XPOLL_BATCH_CHUNK;
		if (i) {
			if (fatal_signal_pending(current))
				break;
			cond_resched();
		}
		if (!k)
			got = xpoll_read_ctls(c, &uctls[i],
					      min_t(u32, nr - i,
						    XPOLL_BATCH_CHUNK));
		if (k >= got)	/* reading ctls[i] faulted */
			break;
		res = xpoll_ctl_one(ep, &c[k]);
		if (res)
			*failed = true;
		if (put_user(res, &ures[i])) {
			/* A result the caller cannot see: as a failure. */
			*failed = true;
			*applied = i + 1;
			return i;
		}
	}
	*applied = i;
	return i;
}

long xpoll_ioc_ctl_batch(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_ctl_batch b __uninitialized;
	const struct xpoll_ctl __user *uctls;
	bool failed = false;
	s32 __user *ures;
	u32 done, applied;

	if (xpoll_copy_arg(&b, uarg, sizeof(b)))
		return -EFAULT;
	if (b.flags || b.reserved[0] || b.reserved[1] || !b.nr ||
	    b.nr > XPOLL_CTL_BATCH_MAX)
		return -EINVAL;
	uctls = xpoll_u64_to_uptr(b.ctls);
	ures = xpoll_u64_to_uptr(b.results);
	if (xpoll_ctls_check(uctls, ures, b.nr))
		return -EFAULT;
	done = xpoll_apply_ctls(ep, uctls, ures, b.nr, &applied, &failed);
	/* 0: ctls[0] could not be read (or results[0] was unmapped). */
	return done ? done : -EFAULT;
}
