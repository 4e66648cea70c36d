// SPDX-License-Identifier: GPL-2.0
/*
 * XPOLL_IOC_WAIT, as epoll_pwait2(2), and XPOLL_IOC_CTL_WAIT, changes
 * (batch.c) then that wait in one call: the ready list -> txlist transfer,
 * the re-poll of every ready item, LT / ET / ONESHOT, the copy-out, the
 * timeout (hrtimer, ns), the temporary signal mask and EINTR; and the
 * minimum-count wait (min_events), whose wait entry, on-stack timer and
 * list of held level-triggered items are described at xpoll_wait_min().
 *
 * Order of checks, as epoll_pwait2: the signal mask (size -> EINVAL, copy
 * -> EFAULT), then maxevents (EINVAL), then the buffer (access_ok ->
 * EFAULT).  The signal mask is installed for the duration of the call and
 * restored afterwards, except when the call fails with EINTR: then the
 * signal is delivered under the temporary mask and the signal code
 * restores the saved one (TIF_RESTORE_SIGMASK), as epoll_pwait does.
 *
 * The ready list protocol (rdllist, ovflist, order) is described at the
 * top of xpoll.h.  An item whose file is closing or closed, or is a
 * pinned file that only xpoll holds any more, is never reported
 * (xpoll_item_fget()): the transfer takes it off the ready list, and its
 * removal is left to its instance's reap work or to the reaper (target.c).
 */
#include <linux/compat.h>
#include <linux/file.h>
#include <linux/hrtimer.h>
#include <linux/device.h>
#include <linux/sched/rt.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/uaccess.h>

#include <linux/xpoll.h>
#include "trace.h"
#include "xpoll.h"

/*
 * Current readiness of @it's target, masked by its interest set; 0 when
 * its file is closing or closed (xpoll_item_fget()).  A nested instance
 * is polled directly with @depth so that the chain stays bounded; an
 * epoll target only when @repoll_epoll (see Nesting in xpoll.h), else it
 * is taken as ready for what it was queued for.  Under ep->mtx.
 */
__poll_t xpoll_item_poll(struct xpoll_item *it, poll_table *pt, int depth,
			 bool repoll_epoll)
{
	struct file *file;
	__poll_t res;

	if (unlikely(xpoll_item_is_user(it)))
		return xpoll_uevent_poll(it) & it->events;
	file = xpoll_item_fget(it);
	if (!file)
		return 0;
	pt->_key = it->events;
	/* Per event on the transfer path: only pointer tests before the poll. */
	if (file->f_op == &xpoll_fops)
		res = xpoll_instance_poll(file->private_data, pt, depth,
					  repoll_epoll);
	else if (!repoll_epoll && !pt->_qproc && xpoll_file_is_epoll(file))
		res = EPOLLIN | EPOLLRDNORM;
	else
		res = vfs_poll(file, pt);
	fput(file);
	return res & it->events;
}

bool xpoll_events_available(struct xpoll_instance *ep)
{
	if (READ_ONCE(ep->ring))
		return xpoll_ring_count(ep);
	return !list_empty_careful(&ep->rdllist) ||
		READ_ONCE(ep->ovflist) != XPOLL_UNACTIVE;
}

/* Steals the ready list; callbacks go to ovflist until done_scan. */
void xpoll_start_scan(struct xpoll_instance *ep, struct list_head *txlist)
{
	lockdep_assert_held(&ep->mtx);
	spin_lock_irq(&ep->lock);
	list_splice_init(&ep->rdllist, txlist);
	WRITE_ONCE(ep->ovflist, NULL);
	spin_unlock_irq(&ep->lock);
}

/*
 * Ends a scan; @ready is how many items the scan made ready (put back on
 * a list: its txlist, the ready list, a minimum-count wait's own) less how
 * many it took off txlist, for the statistics' count of ready items.
 */
void xpoll_done_scan(struct xpoll_instance *ep, struct list_head *txlist,
		     long ready)
{
	struct xpoll_item *it, *nit;

	spin_lock_irq(&ep->lock);
	/*
	 * ovflist is LIFO: adding each at the head restores FIFO order.
	 * Items still on txlist are skipped here and spliced below.
	 */
	for (nit = READ_ONCE(ep->ovflist); (it = nit);
	     nit = it->next, it->next = XPOLL_UNACTIVE) {
		if (list_empty(&it->rdllink)) {
			list_add(&it->rdllink, &ep->rdllist);
			ready++;
			if (xpoll_item_wakeup(it))
				xpoll_wakeup_stay_awake(it);
		}
	}
	xpoll_count_ready(ep, ready);
	WRITE_ONCE(ep->ovflist, XPOLL_UNACTIVE);
	list_splice(txlist, &ep->rdllist);
	/* Held since a handover, if any (wakeup.c). */
	__pm_relax(ep->ws);
	/* ep->wq only changes under ep->lock, held here. */
	if (!list_empty(&ep->rdllist) && waitqueue_active(&ep->wq))
		wake_up(&ep->wq);
	spin_unlock_irq(&ep->lock);
}

/*
 * Events are stored XPOLL_SEND_CHUNK at a time: one user-access section
 * per chunk instead of one or two per event (epoll_put_uevent() opens two),
 * which is most of the cost of a small wait where STAC/CLAC are expensive
 * (under TCG each one leaves the translated block).  The chunk lives on the
 * stack: 16 events and their items are 320 bytes.
 */
#define XPOLL_SEND_CHUNK	16

struct xpoll_chunk {
	int n;
	long ready;		/* the scan's count for xpoll_done_scan() */
	struct epoll_event evs[XPOLL_SEND_CHUNK];
	struct xpoll_item *items[XPOLL_SEND_CHUNK];
};

/*
 * Stores the chunk at position *@res and adds what was stored to *@res,
 * then applies each stored event's consequence to its item (a
 * level-triggered one goes on @lt: the ready list, or a minimum-count
 * wait's own list).  Items whose event was not stored go back to the head
 * of @txlist in their order, still ready and still armed.  Returns false
 * if the sink faulted.
 */
static bool xpoll_flush_chunk(struct xpoll_instance *ep,
			      struct xpoll_sink *sink, int *res,
			      struct xpoll_chunk *c, struct list_head *txlist,
			      struct list_head *lt)
{
	int stored = sink->put(sink, *res, c->evs, c->n);
	bool whole = stored == c->n;
	int i;

	for (i = 0; i < stored; i++) {
		struct xpoll_item *it = c->items[i];

		xpoll_count_event(ep, it);
		trace_xpoll_deliver(ep->id, it->fd, (__force u32)c->evs[i].events,
				    c->evs[i].data);
		if (it->events & EPOLLONESHOT) {
			it->events &= XPOLL_PRIVATE_BITS;
		} else if (!(it->events & EPOLLET)) {
			/* Level-triggered: look again on the next wait. */
			list_add_tail(&it->rdllink, lt);
			xpoll_count(&ep->stats.lt_requeues);
			c->ready++;
			if (xpoll_item_wakeup(it))
				xpoll_wakeup_stay_awake(it);
		}
	}
	for (i = c->n - 1; i >= stored; i--) {
		list_add(&c->items[i]->rdllink, txlist);
		c->ready++;
		/* Still ready: handed over for nothing (wakeup.c). */
		if (xpoll_item_wakeup(c->items[i]))
			xpoll_wakeup_stay_awake(c->items[i]);
	}
	c->n = 0;
	*res += stored;
	return whole;
}

/*
 * Delivers events to @sink at positions @start .. @maxevents - 1, putting
 * the level-triggered items delivered on @lt.  Returns their number, 0,
 * or -EFAULT if the first one could not be stored (the item stays ready).
 */
static int xpoll_send_from(struct xpoll_instance *ep, struct xpoll_sink *sink,
			   int start, int maxevents, struct list_head *lt)
{
	struct xpoll_item *it, *tmp;
	/* Only entries below chunk.n are read (see xpoll_copy_arg()). */
	struct xpoll_chunk chunk __uninitialized;
	LIST_HEAD(txlist);
	bool fault = false;
	__poll_t revents;
	poll_table pt;
	int res = start;

	/*
	 * Let a killed task exit instead of fetching events for ever, and
	 * pass on the wakeup it may have had: no other wakes a waiter for
	 * the items already queued (callback.c).
	 */
	if (fatal_signal_pending(current)) {
		spin_lock_irq(&ep->lock);
		/* ep->wq only changes under ep->lock, held here. */
		if (!list_empty(&ep->rdllist) && waitqueue_active(&ep->wq))
			wake_up(&ep->wq);
		spin_unlock_irq(&ep->lock);
		return -EINTR;
	}

	init_poll_funcptr(&pt, NULL);
	chunk.n = 0;
	chunk.ready = 0;
	mutex_lock(&ep->mtx);
	xpoll_start_scan(ep, &txlist);

	list_for_each_entry_safe(it, tmp, &txlist, rdllink) {
		if (res + chunk.n >= maxevents)
			break;
		if (xpoll_item_wakeup(it))
			xpoll_wakeup_handover(ep, it);
		list_del_init(&it->rdllink);
		chunk.ready--;
		revents = xpoll_item_poll(it, &pt, 1, true);
		if (!revents)
			continue;

		chunk.evs[chunk.n].events = revents;
		chunk.evs[chunk.n].data = it->data;
		chunk.items[chunk.n++] = it;
		if (chunk.n == XPOLL_SEND_CHUNK &&
		    !xpoll_flush_chunk(ep, sink, &res, &chunk, &txlist, lt)) {
			fault = true;
			break;
		}
	}
	if (chunk.n && !fault)
		fault = !xpoll_flush_chunk(ep, sink, &res, &chunk, &txlist,
					   lt);
	xpoll_done_scan(ep, &txlist, chunk.ready);

	mutex_unlock(&ep->mtx);
	return fault && res == start ? -EFAULT : res - start;
}

/*
 * Delivers up to @maxevents events to @sink.  Returns their number, 0, or
 * -EFAULT if the first one could not be stored (the item stays ready).
 */
int xpoll_send_events(struct xpoll_instance *ep, struct xpoll_sink *sink,
		      int maxevents)
{
	return xpoll_send_from(ep, sink, 0, maxevents, &ep->rdllist);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_send_events);

/* Removes the entry even when the task was already awake (as epoll). */
static int xpoll_autoremove_wake(struct wait_queue_entry *wq_entry,
				 unsigned int mode, int sync, void *key)
{
	int ret;

	/* Before the wakeup: the sleeper may run before the removal below. */
	wq_entry->flags |= WQ_FLAG_WOKEN;
	ret = default_wake_function(wq_entry, mode, sync, key);
	list_del_init_careful(&wq_entry->entry);
	return ret;
}

/*
 * How late a timed wait may end, as epoll_pwait2 allows (select()'s rule):
 * 0.1 % of the timeout (0.5 % for a niced task), at most 100 ms, at least
 * the task's timer slack; none for real-time tasks.  A long timeout so
 * lets the kernel batch timer expiries, as it does for epoll.
 */
u64 xpoll_timer_slack(s64 timeout_ns)
{
	u64 slack;

	if (rt_task(current))
		return 0;
	slack = div_u64(timeout_ns, task_nice(current) > 0 ? 200 : 1000);
	slack = min_t(u64, slack, 100 * NSEC_PER_MSEC);
	return max_t(u64, slack, current->timer_slack_ns);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_timer_slack);

/*
 * The end of a wait of @timeout_ns > 0, in *@expires with its *@slack;
 * NULL (no end) for the others.
 */
static ktime_t *xpoll_wait_deadline(s64 timeout_ns, ktime_t *expires,
				    u64 *slack)
{
	*slack = 0;
	if (timeout_ns <= 0)
		return NULL;
	*expires = ktime_add_safe(ktime_get(), ns_to_ktime(timeout_ns));
	*slack = xpoll_timer_slack(timeout_ns);
	return expires;
}

/*
 * The wait proper: @timeout_ns < 0 blocks until an event or a signal, 0
 * does not block, > 0 is a relative timeout.
 */
int xpoll_wait_sink(struct xpoll_instance *ep, struct xpoll_sink *sink,
		    int maxevents, s64 timeout_ns)
{
	wait_queue_entry_t wait;
	bool timed_out = timeout_ns == 0, woken = false;
	ktime_t expires, *to;
	u64 slack;
	int res, eavail;

	lockdep_assert_irqs_enabled();
	to = xpoll_wait_deadline(timeout_ns, &expires, &slack);

	eavail = xpoll_events_available(ep);
	for (;;) {
		if (eavail) {
			/*
			 * A ring instance's wait stores nothing (ring.c); one
			 * begun with a buffer before the setup is refused.
			 */
			if (READ_ONCE(ep->ring)) {
				if (sink->uptr)
					return -EINVAL;
				xpoll_ring_repoll(ep);
				res = min_t(u32, xpoll_ring_count(ep), maxevents);
			} else {
				res = xpoll_send_events(ep, sink, maxevents);
			}
			if (res)
				return res;
		}
		/* Woken for events that another waiter took, or that went. */
		if (woken)
			xpoll_count_call(&ep->stats.wakeups_spurious);
		woken = false;
		if (timed_out)
			return 0;
		/* Busy polling, if on for @ep: events may come meanwhile. */
		if (xpoll_busy_loop(ep, to)) {
			eavail = 1;
			continue;
		}
		if (signal_pending(current))
			return -EINTR;

		init_wait(&wait);
		wait.func = xpoll_autoremove_wake;

		spin_lock_irq(&ep->lock);
		__set_current_state(TASK_INTERRUPTIBLE);
		/* Checked under the lock: both lists may look empty briefly. */
		eavail = xpoll_events_available(ep);
		if (!eavail)
			__add_wait_queue_exclusive(&ep->wq, &wait);
		spin_unlock_irq(&ep->lock);

		if (!eavail) {
			sink->slept = true;
			timed_out = !schedule_hrtimeout_range(to, slack,
							      HRTIMER_MODE_ABS);
			/* Taken off the queue by a wakeup (autoremove). */
			woken = READ_ONCE(wait.flags) & WQ_FLAG_WOKEN;
			if (woken)
				xpoll_count_call(&ep->stats.wakeups);
		}
		__set_current_state(TASK_RUNNING);

		eavail = 1;
		if (!list_empty_careful(&wait.entry)) {
			spin_lock_irq(&ep->lock);
			/* Woken after the timeout fired: harvest anyway. */
			if (timed_out)
				eavail = list_empty(&wait.entry);
			__remove_wait_queue(&ep->wq, &wait);
			spin_unlock_irq(&ep->lock);
		}
	}
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_wait_sink);

/*
 * The sleeper of a minimum-count wait.  Its wait entry wakes it only when
 * @need items were queued since it went to sleep, or for a waker that
 * passes no key (an ADD or MOD that made an item ready, the end of another
 * scan).  Each item queued before that is counted and taken as the
 * wakeup's one exclusive waiter, without waking the sleeper: the wakeup
 * stops there, so its cost does not grow with the number of sleepers, and
 * each item is counted by one of them.  (A waiter already asleep behind it
 * is not woken for those items: this one takes them when its batch ends,
 * or passes the wakeup on if it is killed first.)  The first item starts
 * the batch's timer, without waking the sleeper; the timer wakes it.  So
 * a batch costs the sleeper one wakeup, at its end.  The entry's fields
 * are written under ep->lock (every wakeup of ep->wq holds it) or while
 * it is on no queue.
 */
struct xpoll_min_waiter {
	wait_queue_entry_t wait;
	u32 need;
	u32 seen;
	bool armed;			/* the timer was started */
	bool expired;			/* and has fired */
	s64 min_wait_ns;
	u64 slack;
	struct hrtimer timer;
	struct task_struct *task;
};

static enum hrtimer_restart xpoll_min_timer_fn(struct hrtimer *timer)
{
	struct xpoll_min_waiter *mw = container_of(timer,
						   struct xpoll_min_waiter,
						   timer);

	WRITE_ONCE(mw->expired, true);
	wake_up_process(mw->task);
	return HRTIMER_NORESTART;
}

/* Starts the batch's timer at its first event; once per call. */
static void xpoll_min_arm(struct xpoll_min_waiter *mw)
{
	if (mw->armed || !mw->min_wait_ns)
		return;
	mw->armed = true;
	hrtimer_start_range_ns(&mw->timer, ns_to_ktime(mw->min_wait_ns),
			       mw->slack, HRTIMER_MODE_REL);
}

static int xpoll_min_wake(struct wait_queue_entry *wq_entry,
			  unsigned int mode, int sync, void *key)
{
	struct xpoll_min_waiter *mw = container_of(wq_entry,
						   struct xpoll_min_waiter,
						   wait);

	if (key == XPOLL_WAKE_QUEUED) {
		xpoll_min_arm(mw);
		/* Taken, as an exclusive waiter's, without a wakeup. */
		if (++mw->seen < mw->need)
			return 1;
	}
	return xpoll_autoremove_wake(wq_entry, mode, sync, key);
}

/*
 * A wait with @min_events > 0 (see struct xpoll_wait): events are stored
 * as they come, the level-triggered ones delivered are held on a list of
 * the call's own (so each is reported once per call) and go back on the
 * ready list at the end.  The sleeper is woken once per batch, not once
 * per event: when @min_events - stored items were queued, at
 * @min_wait_ns after the first event was queued (or found, if it was
 * ready at the call), or at the timeout.
 */
int xpoll_wait_min(struct xpoll_instance *ep, struct xpoll_sink *sink,
		   int maxevents, s64 timeout_ns, u32 min_events,
		   s64 min_wait_ns)
{
	struct xpoll_min_waiter mw = {
		.min_wait_ns = min_wait_ns,
		.slack = xpoll_timer_slack(min_wait_ns),
		.task = current,
	};
	bool timed_out = timeout_ns == 0, eavail, pwake = false, woken = false;
	ktime_t expires, *to;
	LIST_HEAD(held);
	u64 slack;
	int res, total = 0;

	lockdep_assert_irqs_enabled();
	to = xpoll_wait_deadline(timeout_ns, &expires, &slack);
	hrtimer_init_on_stack(&mw.timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	mw.timer.function = xpoll_min_timer_fn;

	eavail = xpoll_events_available(ep);
	for (;;) {
		/* Set up by another thread since the call's check. */
		if (unlikely(READ_ONCE(ep->ring))) {
			if (!total)
				total = -EINVAL;
			break;
		}
		if (eavail) {
			res = xpoll_send_from(ep, sink, total, maxevents,
					      &held);
			if (res < 0) {
				/* A fault or a fatal signal: keep what is stored. */
				if (!total)
					total = res;
				break;
			}
			total += res;
			if (woken && !res)
				xpoll_count_call(&ep->stats.wakeups_spurious);
			woken = false;
		}
		if (total >= min_events || total == maxevents || timed_out ||
		    (total && READ_ONCE(mw.expired)))
			break;
		spin_lock_irq(&ep->lock);
		if (!total && mw.expired) {
			/*
			 * The item that started the timer had nothing to
			 * report when it was re-polled: no batch has begun.
			 */
			mw.armed = false;
			WRITE_ONCE(mw.expired, false);
		} else if (total) {
			/* The first event, found here: the timer starts. */
			xpoll_min_arm(&mw);
		}
		spin_unlock_irq(&ep->lock);
		if (!total && xpoll_busy_loop(ep, to)) {
			eavail = true;
			continue;
		}
		if (signal_pending(current)) {
			if (!total)
				total = -EINTR;
			break;
		}

		init_waitqueue_func_entry(&mw.wait, xpoll_min_wake);
		/* Not added when events turn up: the test below must see that. */
		INIT_LIST_HEAD(&mw.wait.entry);
		mw.wait.private = current;
		mw.need = min_events - total;
		mw.seen = 0;

		spin_lock_irq(&ep->lock);
		__set_current_state(TASK_INTERRUPTIBLE);
		eavail = xpoll_events_available(ep);
		if (!eavail && !READ_ONCE(mw.expired))
			__add_wait_queue_exclusive(&ep->wq, &mw.wait);
		else
			eavail = true;
		spin_unlock_irq(&ep->lock);

		woken = false;
		if (list_empty(&mw.wait.entry)) {
			__set_current_state(TASK_RUNNING);
		} else {
			sink->slept = true;
			timed_out = !schedule_hrtimeout_range(to, slack,
							      HRTIMER_MODE_ABS);
			/* Taken off the queue by a wakeup, not the timer. */
			woken = READ_ONCE(mw.wait.flags) & WQ_FLAG_WOKEN;
			if (woken)
				xpoll_count_call(&ep->stats.wakeups);
		}
		__set_current_state(TASK_RUNNING);

		eavail = true;
		if (!list_empty_careful(&mw.wait.entry)) {
			spin_lock_irq(&ep->lock);
			__remove_wait_queue(&ep->wq, &mw.wait);
			spin_unlock_irq(&ep->lock);
		}
	}
	/* No wakeup can start it any more: the entry is on no queue. */
	hrtimer_cancel(&mw.timer);
	destroy_hrtimer_on_stack(&mw.timer);

	/*
	 * The held items are ready still: back where every waiter sees them.
	 * Under ep->mtx as well as ep->lock: a transfer adds to the ready list
	 * holding only the mutex (see "Ready list and transfer").
	 */
	if (!list_empty(&held)) {
		mutex_lock(&ep->mtx);
		spin_lock_irq(&ep->lock);
		list_splice_tail(&held, &ep->rdllist);
		/* ep->wq only changes under ep->lock, held here. */
		if (waitqueue_active(&ep->wq))
			wake_up(&ep->wq);
		/* Racy by design, as the callback's (callback.c). */
		pwake = waitqueue_active(&ep->poll_wait);
		spin_unlock_irq(&ep->lock);
		mutex_unlock(&ep->mtx);
		if (pwake)
			xpoll_poll_wake(ep, NULL, 0);
	}
	return total;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_wait_min);

/*
 * One user-access section for the chunk; word stores, as the generic copy
 * is a byte loop under TCG.  A fault stops at the event it hit: the ones
 * before it are whole.
 */
static int xpoll_put_user_events(struct xpoll_sink *sink, int idx,
				 const struct epoll_event *evs, int n)
{
	struct epoll_event __user *uev = sink->uptr;
	int i = 0;

	uev += idx;
	if (!user_access_begin(uev, n * sizeof(*uev)))
		return 0;
	for (; i < n; i++) {
		unsafe_put_user(evs[i].events, &uev[i].events, out);
		unsafe_put_user(evs[i].data, &uev[i].data, out);
	}
out:
	user_access_end();
	return i;
}

/* Installs the caller's temporary signal mask, as set_user_sigmask(). */
static int xpoll_set_sigmask(const struct xpoll_wait *w)
{
	void __user *umask = xpoll_u64_to_uptr(w->sigmask);
	sigset_t kmask;

	if (!w->sigmask)
		return 0;
	if (in_compat_syscall()) {
#ifdef CONFIG_COMPAT
		if (w->sigsetsize != sizeof(compat_sigset_t))
			return -EINVAL;
		if (get_compat_sigset(&kmask, umask))
			return -EFAULT;
#endif
	} else {
		if (w->sigsetsize != sizeof(sigset_t))
			return -EINVAL;
		if (copy_from_user(&kmask, umask, sizeof(kmask)))
			return -EFAULT;
	}
	sigdelsetmask(&kmask, sigmask(SIGKILL) | sigmask(SIGSTOP));
	current->saved_sigmask = current->blocked;
	set_restore_sigmask();
	sigprocmask(SIG_SETMASK, &kmask, NULL);
	return 0;
}

/*
 * As restore_saved_sigmask_unless(): on EINTR the pending signal is
 * delivered under the temporary mask and the signal code restores the
 * saved one; otherwise restore it now.
 */
static void xpoll_restore_sigmask(bool interrupted)
{
	if (interrupted)
		return;
	if (test_and_clear_restore_sigmask())
		sigprocmask(SIG_SETMASK, &current->saved_sigmask, NULL);
}

/*
 * The fields of XPOLL_IOC_WAIT (and CTL_WAIT's wait) checked before any
 * other: those that must be zero, and the minimum-wait pair.
 */
static bool xpoll_wait_fields_ok(const struct xpoll_wait *w)
{
	if (w->flags || w->reserved || w->min_wait_ns < 0)
		return false;
	if (!w->min_events)
		return !w->min_wait_ns;
	return w->maxevents > 0 && w->min_events <= (u32)w->maxevents;
}

/* The wait proper, with or without a minimum count. */
static int xpoll_wait_any(struct xpoll_instance *ep, struct xpoll_sink *sink,
			  const struct xpoll_wait *w, s64 timeout_ns)
{
	int res;

	xpoll_count_call(&ep->stats.waits);
	trace_xpoll_wait_begin(ep->id, w->maxevents, timeout_ns,
			       w->min_events);
	if (w->min_events)
		res = xpoll_wait_min(ep, sink, w->maxevents, timeout_ns,
				     w->min_events, w->min_wait_ns);
	else
		res = xpoll_wait_sink(ep, sink, w->maxevents, timeout_ns);
	if (sink->slept)
		xpoll_count_call(&ep->stats.waits_slept);
	trace_xpoll_wait_end(ep->id, res, sink->slept);
	return res;
}

/*
 * Installs @w's signal mask and checks its event buffer, in epoll_pwait2's
 * order (mask, maxevents, buffer), pointing @sink at it: 0, or the errno
 * with the mask put back.  xpoll_wait_end() ends what it began.
 */
static long xpoll_wait_begin(struct xpoll_instance *ep,
			     const struct xpoll_wait *w, struct xpoll_sink *sink)
{
	bool ring = READ_ONCE(ep->ring);
	long res;

	/* A ring instance's wait stores nothing and counts no minimum. */
	if (ring && (w->events || w->min_events))
		return -EINVAL;
	res = xpoll_set_sigmask(w);
	if (res)
		return res;
	sink->uptr = xpoll_u64_to_uptr(w->events);
	if (w->maxevents <= 0 || w->maxevents > XPOLL_MAX_EVENTS)
		res = -EINVAL;
	else if (!ring &&
		 !xpoll_uptr_ok(sink->uptr,
				w->maxevents * sizeof(struct epoll_event)))
		res = -EFAULT;
	if (res && w->sigmask)
		xpoll_restore_sigmask(false);
	return res;
}

/* Puts the caller's signal mask back (see xpoll_restore_sigmask()). */
static long xpoll_wait_end(const struct xpoll_wait *w, long res)
{
	if (w->sigmask)
		xpoll_restore_sigmask(res == -EINTR);
	return res;
}

long xpoll_ioc_wait(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_sink sink = { .put = xpoll_put_user_events };
	struct xpoll_wait w __uninitialized;	/* all of it copied in */
	long res;

	if (xpoll_copy_arg(&w, uarg, sizeof(w)))
		return -EFAULT;
	if (!xpoll_wait_fields_ok(&w))
		return -EINVAL;
	res = xpoll_wait_begin(ep, &w, &sink);
	if (res)
		return res;
	res = xpoll_wait_any(ep, &sink, &w, w.timeout_ns);
	return xpoll_wait_end(&w, res);
}

/*
 * XPOLL_IOC_CTL_WAIT (see uapi/linux/xpoll.h): every check of the changes
 * and of the wait comes first, so that a failure applies nothing; then
 * the changes, as XPOLL_IOC_CTL_BATCH (batch.c); then the wait, which
 * does not sleep if a change failed or the changes stopped early.
 */
long xpoll_ioc_ctl_wait(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_ctl_wait __user *ucw = uarg;
	struct xpoll_sink sink = { .put = xpoll_put_user_events };
	struct xpoll_ctl_wait cw __uninitialized;	/* all of it copied in */
	const struct xpoll_wait *w = &cw.wait;
	const struct xpoll_ctl __user *uctls;
	bool failed = false;
	s32 __user *ures;
	s64 timeout_ns;
	u32 done = 0;
	long res;

	if (xpoll_copy_arg(&cw, uarg, sizeof(cw)))
		return -EFAULT;
	if (cw.nr > XPOLL_CTL_BATCH_MAX || !xpoll_wait_fields_ok(w))
		return -EINVAL;
	uctls = xpoll_u64_to_uptr(cw.ctls);
	ures = xpoll_u64_to_uptr(cw.results);
	if (put_user(0, &ucw->nr_done) ||
	    (cw.nr && xpoll_ctls_check(uctls, ures, cw.nr)))
		return -EFAULT;
	res = xpoll_wait_begin(ep, w, &sink);
	if (res)
		return res;

	if (cw.nr) {
		xpoll_apply_ctls(ep, uctls, ures, cw.nr, &done, &failed);
		/* 0: ctls[0] could not be read, nothing was applied. */
		if (!done)
			return xpoll_wait_end(w, -EFAULT);
		/*
		 * Once something is applied the call no longer fails with
		 * EFAULT; if the caller unmapped nr_done meanwhile, it cannot
		 * learn the count, but gets the events.
		 */
		if (put_user(done, &ucw->nr_done))
			failed = true;
	}
	/* The caller learns of a failed or unfinished change list at once. */
	timeout_ns = failed || done < cw.nr ? 0 : w->timeout_ns;
	res = xpoll_wait_any(ep, &sink, w, timeout_ns);
	return xpoll_wait_end(w, res);
}
