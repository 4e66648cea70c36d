// SPDX-License-Identifier: GPL-2.0
/*
 * EPOLLWAKEUP: wakeup sources, as epoll keeps them.
 *
 * An item with EPOLLWAKEUP (kept only with CAP_BLOCK_SUSPEND on a kernel
 * with CONFIG_PM_SLEEP, ctl.c) has a wakeup source named after its file's
 * dentry, as epoll's epitem has, and its instance one named "xpoll" (epoll:
 * "eventpoll"); both are listed in /sys/class/wakeup and in debugfs'
 * wakeup_sources.  The item's is active while the item is ready: from the
 * callback (or ADD and MOD) that queues it until a transfer takes it
 * (and again when a level-triggered item goes back on the ready list);
 * the instance's is active while a transfer hands over the events of
 * items whose sources were active, so that the system cannot suspend
 * between the two.
 *
 * Items have no room for a pointer (struct xpoll_item is 168 bytes, its
 * budget), so the item -> source map is a global hash keyed by the item's
 * address, read under RCU by the callback, changed under
 * xpoll_wakeups_lock (O(1) holds) by ADD, MOD and removal under ep->mtx.
 * Only items with EPOLLWAKEUP look it up.  A source is unregistered after
 * its entry left the hash and an RCU grace period (synchronize_rcu(), as
 * epoll's ep_destroy_wakeup_source(): wakeup_source_unregister() waits
 * only for its own SRCU), so no callback still uses it.
 */
#include <linux/dcache.h>
#include <linux/hashtable.h>
#include <linux/device.h>
#include <linux/slab.h>

#include "xpoll.h"

struct xpoll_wakeup {
	struct hlist_node node;		/* in xpoll_wakeups */
	const struct xpoll_item *item;
	struct wakeup_source *ws;
};

static DEFINE_HASHTABLE(xpoll_wakeups, 10);
static DEFINE_SPINLOCK(xpoll_wakeups_lock);

static struct xpoll_wakeup *xpoll_wakeup_find(const struct xpoll_item *it)
{
	struct xpoll_wakeup *w;

	hash_for_each_possible_rcu(xpoll_wakeups, w, node, (unsigned long)it,
				   lockdep_is_held(&xpoll_wakeups_lock))
		if (w->item == it)
			return w;
	return NULL;
}

/*
 * Gives @it (whose file is alive) a wakeup source named after the file,
 * or "xpoll-user" for a user event (@file NULL), and @ep one if it has
 * none yet.  Under ep->mtx; may sleep.  0 or -ENOMEM.
 */
int xpoll_wakeup_attach(struct xpoll_instance *ep, struct xpoll_item *it,
			struct file *file)
{
	struct name_snapshot n;
	struct xpoll_wakeup *w;

	lockdep_assert_held(&ep->mtx);
	if (!ep->ws) {
		ep->ws = wakeup_source_register(NULL, "xpoll");
		if (!ep->ws)
			return -ENOMEM;
	}
	w = kmalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return -ENOMEM;
	if (file) {
		take_dentry_name_snapshot(&n, file->f_path.dentry);
		w->ws = wakeup_source_register(NULL, n.name.name);
		release_dentry_name_snapshot(&n);
	} else {
		w->ws = wakeup_source_register(NULL, "xpoll-user");
	}
	if (!w->ws) {
		kfree(w);
		return -ENOMEM;
	}
	w->item = it;
	spin_lock(&xpoll_wakeups_lock);
	hash_add_rcu(xpoll_wakeups, &w->node, (unsigned long)it);
	spin_unlock(&xpoll_wakeups_lock);
	return 0;
}

/* Drops @it's wakeup source, if it has one.  Under ep->mtx; sleeps. */
void xpoll_wakeup_detach(struct xpoll_item *it)
{
	struct xpoll_wakeup *w;

	spin_lock(&xpoll_wakeups_lock);
	w = xpoll_wakeup_find(it);
	if (w)
		hash_del_rcu(&w->node);
	spin_unlock(&xpoll_wakeups_lock);
	if (!w)
		return;
	/* A callback that found @w under rcu_read_lock() is done after it. */
	synchronize_rcu();
	wakeup_source_unregister(w->ws);
	kfree(w);
}

/* Lets the system sleep again as far as @it goes.  Any context. */
void xpoll_wakeup_relax(const struct xpoll_item *it)
{
	struct xpoll_wakeup *w;

	rcu_read_lock();
	w = xpoll_wakeup_find(it);
	if (w)
		__pm_relax(w->ws);
	rcu_read_unlock();
}

/* Keeps the system awake for @it, now ready.  Any context. */
void xpoll_wakeup_stay_awake(const struct xpoll_item *it)
{
	struct xpoll_wakeup *w;

	rcu_read_lock();
	w = xpoll_wakeup_find(it);
	if (w)
		__pm_stay_awake(w->ws);
	rcu_read_unlock();
}

/*
 * A transfer takes @it off the ready list: its source is relaxed, and if
 * it was active the instance's holds the system awake until the transfer
 * ends (xpoll_done_scan()).  Under ep->mtx.
 */
void xpoll_wakeup_handover(struct xpoll_instance *ep,
			   const struct xpoll_item *it)
{
	struct xpoll_wakeup *w;

	rcu_read_lock();
	w = xpoll_wakeup_find(it);
	if (w) {
		if (w->ws->active)
			__pm_stay_awake(ep->ws);
		__pm_relax(w->ws);
	}
	rcu_read_unlock();
}
