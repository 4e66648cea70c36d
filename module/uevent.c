// SPDX-License-Identifier: GPL-2.0
/*
 * User events (XPOLL_CTL_USER, see uapi/linux/xpoll.h): items with no file
 * behind them, named by a 64-bit key, triggered and cleared by the user.
 *
 * A user event is a struct xpoll_uevent, whose first member is an
 * ordinary item with no file (item->file NULL, item->fd -1): the ready
 * list, the transfer, the modes and the wakeup sources treat it as any
 * other item, and its "poll" is its pending bits (xpoll_uevent_poll()).
 * It is not in the interest tree (that is keyed by file) nor in any
 * file's tree: the instance's hash table ep->uevents (an rhashtable keyed
 * by the 64-bit key, allocated at the first ADD) finds it, and the list
 * ep->uevent_list holds it for release and fdinfo.  A hash table, not an
 * xarray: the xarray's nodes for sparse keys cost about 4.9 KB an event
 * (the review's uev_mem, bit-reversed keys), 24 times a watch; the hash
 * table's buckets cost about 16 bytes an event, whatever the keys.
 *
 * Locks and lifetime:
 * - ep->uevents and ep->uevent_list are changed (ADD, DEL, release) under
 *   ep->mtx, the table also under its own bucket locks; a trigger looks
 *   the table up under rcu_read_lock() only, so that it never waits for
 *   the instance's mutex, which a wait holds while it copies events out.
 *   The table is published with smp_store_release() and lives until the
 *   instance's release, when no trigger can run (each holds the file).
 * - uev->pending and uev->dead are written under ep->lock.  A trigger
 *   checks dead, sets the bits and queues the item in one hold of
 *   ep->lock, as the wake callback does; DEL sets dead and takes the item
 *   off the ready list in one hold of its own, under ep->mtx.  So no
 *   trigger queues a deleted event, and the event is freed after an RCU
 *   grace period (kfree_rcu()), once no trigger can still be looking at
 *   it.  pending is read without the lock by the re-poll of a transfer
 *   (under ep->mtx, after the item was taken off the ready list under
 *   ep->lock) and by MOD (see xpoll_item_modify(): the barrier in
 *   xpoll_uevent_signal() pairs with its own).
 * - A trigger of another instance (fd of that instance) holds that
 *   file's reference for the call: the instance cannot be released
 *   meanwhile.
 * - Each user event counts against its instance's user's
 *   max_user_watches, as a watch does, from ADD to DEL or release.
 *
 * Cost: a trigger is one hash lookup and one hold of ep->lock
 * (interrupts off) for O(1) work, plus the wakeup of the instance's
 * pollers.  Release removes an instance's user events with ep->mtx held,
 * O(events), rescheduling between them.
 */
#include <linux/file.h>
#include <linux/rcupdate.h>
#include <linux/rhashtable.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include <linux/xpoll.h>
#include "xpoll.h"

struct xpoll_uevent {
	struct xpoll_item item;		/* file NULL, fd -1 */
	u64 key;
	__poll_t pending;		/* triggered bits, under ep->lock */
	bool dead;			/* deleted, under ep->lock */
	struct rhash_head node;		/* in ep->uevents */
	struct list_head link;		/* on ep->uevent_list */
	struct rcu_head rcu;
};

static const struct rhashtable_params xpoll_uevent_params = {
	.key_len		= sizeof(u64),
	.key_offset		= offsetof(struct xpoll_uevent, key),
	.head_offset		= offsetof(struct xpoll_uevent, node),
	.automatic_shrinking	= true,
};

/* The event of @key, or NULL; under rcu_read_lock() or ep->mtx. */
static struct xpoll_uevent *xpoll_uevent_find(struct xpoll_instance *ep,
					      u64 key)
{
	/* Pairs with smp_store_release() in xpoll_uevent_add(). */
	struct rhashtable *ht = smp_load_acquire(&ep->uevents);

	return ht ? rhashtable_lookup_fast(ht, &key, xpoll_uevent_params) :
		    NULL;
}

static struct xpoll_uevent *xpoll_uevent_of(const struct xpoll_item *it)
{
	return container_of(it, struct xpoll_uevent, item);
}

/* The readiness of a user event: its pending bits (see the top). */
__poll_t xpoll_uevent_poll(const struct xpoll_item *it)
{
	return READ_ONCE(xpoll_uevent_of(it)->pending);
}

/*
 * Gives the watch (and a ring instance's slot) back and frees @uev once
 * no trigger can see it.
 */
static void xpoll_uevent_free(struct xpoll_instance *ep,
			      struct xpoll_uevent *uev)
{
	atomic_long_dec(&ep->user->watches);
	if (ep->ring)
		xpoll_ring_slot_put(ep, &uev->item);
	if (xpoll_item_wakeup(&uev->item))
		xpoll_wakeup_detach(&uev->item);
	kfree_rcu(uev, rcu);
}

/* DEL, and release: under ep->mtx, never during a scan. */
static void xpoll_uevent_remove(struct xpoll_instance *ep,
				struct xpoll_uevent *uev)
{
	lockdep_assert_held(&ep->mtx);
	rhashtable_remove_fast(ep->uevents, &uev->node, xpoll_uevent_params);
	list_del(&uev->link);
	WRITE_ONCE(ep->stats.items, ep->stats.items - 1);
	spin_lock_irq(&ep->lock);
	uev->dead = true;
	if (!list_empty(&uev->item.rdllink)) {
		list_del_init(&uev->item.rdllink);
		xpoll_count_ready(ep, -1);
	}
	spin_unlock_irq(&ep->lock);
	xpoll_uevent_free(ep, uev);
}

static int xpoll_uevent_add(struct xpoll_instance *ep, u64 key,
			    __poll_t events, u64 data)
{
	struct xpoll_uevent *uev;
	struct rhashtable *ht;
	struct xpoll_item *it;
	int err;

	if (!ep->uevents) {
		ht = kmalloc(sizeof(*ht), GFP_KERNEL_ACCOUNT);
		if (!ht)
			return -ENOMEM;
		err = rhashtable_init(ht, &xpoll_uevent_params);
		if (err) {
			kfree(ht);
			return err;
		}
		/* Pairs with smp_load_acquire() in xpoll_uevent_find(). */
		smp_store_release(&ep->uevents, ht);
	}
	if (!xpoll_watch_charge(ep))
		return -ENOSPC;
	uev = kzalloc(sizeof(*uev), GFP_KERNEL_ACCOUNT);
	if (!uev) {
		atomic_long_dec(&ep->user->watches);
		return -ENOMEM;
	}
	uev->key = key;
	it = &uev->item;
	INIT_LIST_HEAD(&it->rdllink);
	it->next = XPOLL_UNACTIVE;
	it->ep = ep;
	it->fd = -1;
	it->events = events;
	it->data = data;
	if (ep->ring) {
		err = xpoll_ring_slot_get(ep, it);
		if (err) {
			atomic_long_dec(&ep->user->watches);
			kfree(uev);
			return err;
		}
	}
	if (events & EPOLLWAKEUP) {
		err = xpoll_wakeup_attach(ep, it, NULL);
		if (err) {
			/* Freeing looks for a source only with the bit set. */
			it->events &= ~EPOLLWAKEUP;
			xpoll_uevent_free(ep, uev);
			return err;
		}
	}
	/* The key was looked up under ep->mtx, held: it is free. */
	err = rhashtable_lookup_insert_fast(ep->uevents, &uev->node,
					    xpoll_uevent_params);
	if (err) {
		xpoll_uevent_free(ep, uev);
		return err == -EEXIST ? err : -ENOMEM;
	}
	list_add_tail(&uev->link, &ep->uevent_list);
	WRITE_ONCE(ep->stats.items, ep->stats.items + 1);
	/* Nothing is pending yet: nothing to report. */
	return 0;
}

/* ADD, MOD and DEL of a user event: a file's checks, order and errno. */
static int xpoll_uevent_change(struct xpoll_instance *ep,
			       const struct xpoll_ctl *c)
{
	struct epoll_event ev = { .events = (__force __poll_t)c->events,
				  .data = c->data };
	struct xpoll_uevent *uev;
	int err;

	if (c->fd != -1)
		return -EINVAL;
	if (c->op != XPOLL_CTL_DEL)
		ep_take_care_of_epollwakeup(&ev);
	if (c->op != XPOLL_CTL_DEL && (ev.events & EPOLLEXCLUSIVE)) {
		if (c->op == XPOLL_CTL_MOD)
			return -EINVAL;
		if (c->op == XPOLL_CTL_ADD &&
		    (ev.events & ~XPOLL_EXCLUSIVE_OK_BITS))
			return -EINVAL;
	}

	/*
	 * The first user event of a watched instance adds wakeup paths, as
	 * a file would (ctl.c); later ones add none.  Checked before ep->mtx
	 * (xpoll_topo_lock comes first), so read without it: two first ADDs
	 * may both check.  An ADD that links a parent above @ep meanwhile
	 * checks the paths of our user events itself.
	 */
	if (c->op == XPOLL_CTL_ADD && list_empty_careful(&ep->uevent_list) &&
	    !list_empty_careful(&ep->parents)) {
		err = xpoll_uevent_path_check(ep);
		if (err)
			return err;
	}

	mutex_lock(&ep->mtx);
	/* Closed items stay charged until reaped: reap before charging. */
	xpoll_reap_closed(ep);
	/* Under ep->mtx: a ring's setup takes it too. */
	if (c->op != XPOLL_CTL_DEL &&
	    xpoll_ring_check_events(ep, (__force __poll_t)c->events)) {
		mutex_unlock(&ep->mtx);
		return -EINVAL;
	}
	uev = xpoll_uevent_find(ep, c->key);
	switch (c->op) {
	case XPOLL_CTL_ADD:
		err = uev ? -EEXIST :
		      xpoll_uevent_add(ep, c->key,
				       ev.events | EPOLLERR | EPOLLHUP, ev.data);
		break;
	case XPOLL_CTL_DEL:
		err = -ENOENT;
		if (uev) {
			xpoll_uevent_remove(ep, uev);
			err = 0;
		}
		break;
	case XPOLL_CTL_MOD:
		err = -ENOENT;
		if (uev) {
			err = -EINVAL;
			if (!(uev->item.events & EPOLLEXCLUSIVE)) {
				xpoll_item_modify(ep, &uev->item, NULL,
						  ev.events | EPOLLERR |
						  EPOLLHUP, ev.data);
				err = 0;
			}
		}
		break;
	default:
		err = -EINVAL;
	}
	mutex_unlock(&ep->mtx);
	return err;
}

/*
 * TRIGGER or CLEAR @bits of user event @key of @ep, without ep->mtx (see
 * the top).  Process context, no xpoll lock held.
 */
static int xpoll_uevent_signal(struct xpoll_instance *ep, u32 op, u64 key,
			       __poll_t bits)
{
	struct xpoll_uevent *uev;
	unsigned long flags;
	bool pwake = false;
	int err = -ENOENT;

	rcu_read_lock();
	uev = xpoll_uevent_find(ep, key);
	if (!uev)
		goto out;
	spin_lock_irqsave(&ep->lock, flags);
	if (uev->dead)
		goto out_unlock;
	err = 0;
	if (op == XPOLL_CTL_CLEAR) {
		WRITE_ONCE(uev->pending, uev->pending & ~bits);
		goto out_unlock;
	}
	WRITE_ONCE(uev->pending, uev->pending | bits);
	/*
	 * Pairs with the barrier of xpoll_item_modify(): either the queueing
	 * below sees MOD's new interest set, or MOD's re-poll sees the bits.
	 */
	smp_mb();
	xpoll_item_queue_locked(ep, &uev->item, bits, &pwake);
out_unlock:
	spin_unlock_irqrestore(&ep->lock, flags);
out:
	rcu_read_unlock();
	/* Process context: the pollers are woken here, not deferred. */
	if (pwake)
		xpoll_poll_wake(ep, NULL, 0);
	return err;
}

/*
 * One change of a user event, from XPOLL_IOC_CTL or a change list
 * (ctl.c checked flags and reserved).
 */
int xpoll_uevent_ctl(struct xpoll_instance *ep, const struct xpoll_ctl *c)
{
	__poll_t bits = (__force __poll_t)c->events;
	struct fd tf;
	int err;

	if (c->op != XPOLL_CTL_TRIGGER && c->op != XPOLL_CTL_CLEAR)
		return xpoll_uevent_change(ep, c);
	if (!bits || (c->events & ~XPOLL_USER_BITS) || c->data)
		return -EINVAL;
	if (c->fd == -1)
		return xpoll_uevent_signal(ep, c->op, c->key, bits);
	/* Another instance's event: as a write to another eventfd. */
	tf = fdget(c->fd);
	if (!tf.file)
		return -EBADF;
	err = -EINVAL;
	if (tf.file->f_op == &xpoll_fops)
		err = xpoll_uevent_signal(tf.file->private_data, c->op, c->key,
					  bits);
	fdput(tf);
	return err;
}

/*
 * Removes every user event of @ep and its table (release: no trigger can
 * run any more); the caller holds ep->mtx.
 */
void xpoll_uevent_remove_all(struct xpoll_instance *ep)
{
	struct xpoll_uevent *uev, *tmp;

	lockdep_assert_held(&ep->mtx);
	list_for_each_entry_safe(uev, tmp, &ep->uevent_list, link) {
		xpoll_uevent_remove(ep, uev);
		cond_resched();
	}
	if (ep->uevents) {
		rhashtable_destroy(ep->uevents);
		kfree(ep->uevents);
		ep->uevents = NULL;
	}
}

/* fdinfo lines of @ep's user events, in the order added; under ep->mtx. */
void xpoll_uevent_show(struct seq_file *m, struct xpoll_instance *ep)
{
	struct xpoll_uevent *uev;

	lockdep_assert_held(&ep->mtx);
	list_for_each_entry(uev, &ep->uevent_list, link) {
		seq_printf(m, "uev: %16llx events: %8x data: %16llx pending: %x",
			   (unsigned long long)uev->key,
			   (__force unsigned int)uev->item.events,
			   (unsigned long long)uev->item.data,
			   (__force unsigned int)READ_ONCE(uev->pending));
		xpoll_item_stats_show(m, &uev->item);
		if (seq_has_overflowed(m))
			break;
	}
}
