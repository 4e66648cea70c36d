// SPDX-License-Identifier: GPL-2.0
/*
 * Wait-queue entries and the wake callback.
 *
 * The callback runs under the target's wait-queue lock, in any context
 * (hard irq included), so it only takes ep->lock (irqsave) and never
 * sleeps.  It filters by the item's interest mask, queues the item once
 * (ready list, or ovflist while a transfer runs), wakes one blocked waiter
 * if it queued the item now (see Wakeups in xpoll.h), and queues the
 * wakeup of the instance's pollers (ep->pw_work).  A user event's trigger
 * (uevent.c) queues its item through the same code.  With
 * EPOLLEXCLUSIVE its return value tells the waker whether this entry
 * counts as the one exclusive wakeup, exactly as epoll's.  Locking,
 * POLLFREE, nesting and wakeups are described at the top of xpoll.h.
 */
#include <linux/irq_work.h>
#include <linux/percpu.h>
#include <linux/slab.h>

#include "trace.h"
#include "xpoll.h"

static struct kmem_cache *xpoll_pwq_cache;

/*
 * The wake chain a poller wakeup (ep->pw_work) running on this CPU
 * continues, 0 outside one or when it has no number yet (only a wakeup
 * through an epoll file needs one).  Only touched with interrupts
 * disabled.
 */
static DEFINE_PER_CPU(u64, xpoll_wake_chain);
static atomic64_t xpoll_chain_seq;

struct xpoll_pqueue {
	poll_table pt;
	struct xpoll_item *item;	/* NULL after an allocation failed */
};

/*
 * Queues @it for an event @pollflags (0: unknown) and wakes one blocked
 * waiter, under ep->lock; *@pwake tells whether the instance's pollers
 * need a wakeup.  Returns the callback's EPOLLEXCLUSIVE answer (1: this
 * counts as the waker's one exclusive wakeup).  The wake callback and a
 * user event's trigger (uevent.c) are its two callers.
 */
static __always_inline int xpoll_queue_locked(struct xpoll_instance *ep,
					      struct xpoll_item *it,
					      __poll_t pollflags, int sync,
					      bool *pwake)
{
	bool queued = false, diverted = false;
	int ewake = 0;

	/* Disarmed by EPOLLONESHOT until the next MOD. */
	if (!(it->events & ~XPOLL_PRIVATE_BITS))
		return 0;
	/* Not every waker passes a key; without one, assume a match. */
	if (pollflags && !(pollflags & it->events))
		return 0;

	xpoll_count(&ep->stats.callbacks);
	if (ep->ring) {
		queued = xpoll_ring_post(ep, it, pollflags);
	} else if (READ_ONCE(ep->ovflist) != XPOLL_UNACTIVE) {
		/* Counted as ready at the scan's end (xpoll_done_scan()). */
		xpoll_count(&ep->stats.callbacks_ovf);
		diverted = true;
		if (it->next == XPOLL_UNACTIVE) {
			it->next = READ_ONCE(ep->ovflist);
			WRITE_ONCE(ep->ovflist, it);
			queued = true;
		}
	} else if (list_empty(&it->rdllink)) {
		list_add_tail(&it->rdllink, &ep->rdllist);
		xpoll_count_ready(ep, 1);
		queued = true;
	}
	trace_xpoll_callback(ep->id, it->fd, (__force u32)pollflags, queued,
			     diverted);
	if (queued && xpoll_item_wakeup(it))
		xpoll_wakeup_stay_awake(it);

	/*
	 * waitqueue_active() without a barrier: ep->wq only changes under
	 * ep->lock, which we hold; a poller of ep->poll_wait that races
	 * with us re-polls the instance after queueing itself.  A blocked
	 * waiter is woken only when the item was queued now: one already
	 * queued woke one when it was, and a waiter only sleeps while
	 * nothing is queued (a woken waiter that leaves without taking the
	 * events passes the wakeup on, wait.c).  So a wakeup never walks the
	 * waiters that decline it (minimum-count waiters, wait.c), which any
	 * user could make many of.
	 */
	if (waitqueue_active(&ep->wq)) {
		if ((it->events & EPOLLEXCLUSIVE) && !(pollflags & POLLFREE)) {
			switch (pollflags & XPOLL_INOUT_BITS) {
			case EPOLLIN:
				if (it->events & EPOLLIN)
					ewake = 1;
				break;
			case EPOLLOUT:
				if (it->events & EPOLLOUT)
					ewake = 1;
				break;
			case 0:
				ewake = 1;
				break;
			}
		}
		if (queued && sync)
			__wake_up_sync_key(&ep->wq, TASK_NORMAL,
					   XPOLL_WAKE_QUEUED);
		else if (queued)
			__wake_up(&ep->wq, TASK_NORMAL, 1, XPOLL_WAKE_QUEUED);
	}
	/* Racy by design, as epoll: see the comment above. */
	if (waitqueue_active(&ep->poll_wait))
		*pwake = true;
	return ewake;
}

/* A user event's trigger (uevent.c): xpoll_queue_locked(), as a callback. */
void xpoll_item_queue_locked(struct xpoll_instance *ep, struct xpoll_item *it,
			     __poll_t pollflags, bool *pwake)
{
	lockdep_assert_held(&ep->lock);
	xpoll_queue_locked(ep, it, pollflags, 0, pwake);
}

static int xpoll_wake_callback(wait_queue_entry_t *wait, unsigned int mode,
			       int sync, void *key)
{
	struct xpoll_pwq *pwq = container_of(wait, struct xpoll_pwq, wait);
	struct xpoll_item *it = wait->private;
	struct xpoll_instance *ep = it->ep;
	__poll_t pollflags = key_to_poll(key);
	unsigned long flags;
	bool pwake = false;
	int ewake;

	spin_lock_irqsave(&ep->lock, flags);
	if (unlikely(xpoll_busy_usecs(ep)))
		xpoll_busy_note(ep, it->file);
	ewake = xpoll_queue_locked(ep, it, pollflags, sync, &pwake);
	spin_unlock_irqrestore(&ep->lock, flags);

	/*
	 * io_uring marks the wakeups of its completion queue with
	 * EPOLL_URING_WAKE; pass it on, as epoll does, so that a multishot
	 * poll of this instance that a completion woke through us turns
	 * one-shot instead of posting completions in a loop.
	 */
	if (pwake)
		xpoll_poll_wake(ep, it, pollflags & EPOLL_URING_WAKE);

	if (!(it->events & EPOLLEXCLUSIVE))
		ewake = 1;

	if (pollflags & POLLFREE) {
		/*
		 * The queue dies after this wakeup.  A racing removal may
		 * still see whead != NULL and call remove_wait_queue(), so
		 * use list_del_init(), not __remove_wait_queue().  After
		 * the store nothing protects the item: touch nothing more.
		 */
		list_del_init(&wait->entry);
		/* Pairs with smp_load_acquire() in xpoll_unregister_item(). */
		smp_store_release(&pwq->whead, NULL);
	}

	return ewake;
}

static void xpoll_ptable_queue_proc(struct file *file,
				    wait_queue_head_t *whead, poll_table *pt)
{
	struct xpoll_pqueue *pq = container_of(pt, struct xpoll_pqueue, pt);
	struct xpoll_item *it = pq->item;
	struct xpoll_pwq *pwq;

	if (unlikely(!it))
		return;
	if (likely(!it->pwq.wait.func)) {
		/* The first queue: the entry inside the item. */
		pwq = &it->pwq;
	} else {
		pwq = kmem_cache_alloc(xpoll_pwq_cache, GFP_KERNEL);
		if (unlikely(!pwq)) {
			pq->item = NULL;
			return;
		}
		pwq->next = it->pwq.next;
		it->pwq.next = pwq;
	}
	init_waitqueue_func_entry(&pwq->wait, xpoll_wake_callback);
	pwq->wait.private = it;
	pwq->whead = whead;
	if (it->events & EPOLLEXCLUSIVE)
		add_wait_queue_exclusive(whead, &pwq->wait);
	else
		add_wait_queue(whead, &pwq->wait);
}

/*
 * Hooks @it on every wait queue its target's poll registers and returns
 * the target's current readiness (masked by the interest set).  *ok is
 * false if an entry could not be allocated; the caller then removes the
 * item, which unhooks the entries already made.
 */
__poll_t xpoll_register_poll(struct xpoll_item *it, bool *ok)
{
	struct xpoll_pqueue pq;
	__poll_t revents;

	pq.item = it;
	init_poll_funcptr(&pq.pt, xpoll_ptable_queue_proc);
	revents = xpoll_item_poll(it, &pq.pt, 1, true);
	*ok = pq.item;
	return revents;
}

static void xpoll_unhook(struct xpoll_pwq *pwq)
{
	wait_queue_head_t *whead;

	rcu_read_lock();
	/* Pairs with smp_store_release() in the POLLFREE path. */
	whead = smp_load_acquire(&pwq->whead);
	if (whead)
		remove_wait_queue(whead, &pwq->wait);
	rcu_read_unlock();
}

void xpoll_unregister_item(struct xpoll_item *it)
{
	struct xpoll_pwq *pwq;

	while ((pwq = it->pwq.next)) {
		it->pwq.next = pwq->next;
		xpoll_unhook(pwq);
		kmem_cache_free(xpoll_pwq_cache, pwq);
	}
	xpoll_unhook(&it->pwq);
}

/*
 * Wakes the pollers of @ep (other instances watching it, poll(), select(),
 * epoll).  @it is the item whose callback asks for it, or NULL from process
 * context with at most ep->mtx held; @key is EPOLL_URING_WAKE if the wakeup
 * carried it, else 0.
 *
 * From a callback the wakeup is always deferred to ep->pw_work, so that
 * one event costs work bounded by the nesting edges, not by the paths
 * through them (see "Wakeups" in xpoll.h): while the work is pending,
 * further wakeups of the same instance join it.  A wakeup that came
 * through an epoll file is dropped when the chain it belongs to woke @ep
 * already: that ends a cycle through epoll files.
 */
void xpoll_poll_wake(struct xpoll_instance *ep, struct xpoll_item *it,
		     __poll_t key)
{
	unsigned long flags;
	u64 chain;

	if (!it) {
		wake_up_poll(&ep->poll_wait, EPOLLIN | EPOLLRDNORM | key);
		return;
	}
	local_irq_save(flags);
	chain = __this_cpu_read(xpoll_wake_chain);
	if (xpoll_kind_of(it->file) == XPOLL_KIND_EPOLL) {
		/* Numbered only where a cycle can pass: a shared counter. */
		if (!chain)
			chain = atomic64_inc_return(&xpoll_chain_seq);
		if (READ_ONCE(ep->last_chain) == chain)
			goto out;
	}
	WRITE_ONCE(ep->pending_chain, chain);
	/* Queuers may race (the work runs once for both): keep every key. */
	if (key)
		atomic_or((__force int)key, &ep->pending_key);
	irq_work_queue(&ep->pw_work);
out:
	local_irq_restore(flags);
}

void xpoll_pw_work_fn(struct irq_work *work)
{
	struct xpoll_instance *ep = container_of(work, struct xpoll_instance,
						 pw_work);
	__poll_t key = (__force __poll_t)atomic_xchg(&ep->pending_key, 0);
	u64 chain = READ_ONCE(ep->pending_chain);
	unsigned long flags;

	local_irq_save(flags);
	WRITE_ONCE(ep->last_chain, chain);
	__this_cpu_write(xpoll_wake_chain, chain);
	wake_up_poll(&ep->poll_wait, EPOLLIN | EPOLLRDNORM | key);
	__this_cpu_write(xpoll_wake_chain, 0);
	local_irq_restore(flags);
}

int xpoll_cb_init(void)
{
	xpoll_pwq_cache = kmem_cache_create("xpoll_pwq",
					    sizeof(struct xpoll_pwq), 0,
					    SLAB_ACCOUNT, NULL);
	return xpoll_pwq_cache ? 0 : -ENOMEM;
}

void xpoll_cb_exit(void)
{
	kmem_cache_destroy(xpoll_pwq_cache);
}
