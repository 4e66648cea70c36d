// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll instances: one per open() of /dev/xpoll, freed when the last
 * reference to its file goes (->release) and no reap work of items that
 * their files' close handed over is queued (ctl.c).
 * The poll of the instance itself (nesting) lives here too.  Locking and
 * lifetimes: see the top of xpoll.h.
 */
#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/device.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "xpoll.h"

struct xpoll_instance *xpoll_instance_alloc(void)
{
	struct xpoll_instance *ep;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);
	if (!ep)
		return NULL;
	ep->user = xpoll_user_get(current_uid());
	if (!ep->user) {
		kfree(ep);
		return NULL;
	}
	ep->id = xpoll_new_id();
	kref_init(&ep->ref);
	mutex_init(&ep->mtx);
	spin_lock_init(&ep->lock);
	init_waitqueue_head(&ep->wq);
	init_waitqueue_head(&ep->poll_wait);
	INIT_LIST_HEAD(&ep->rdllist);
	ep->ovflist = XPOLL_UNACTIVE;
	ep->rbr = RB_ROOT_CACHED;
	init_irq_work(&ep->pw_work, xpoll_pw_work_fn);
	INIT_LIST_HEAD(&ep->children);
	INIT_LIST_HEAD(&ep->parents);
	INIT_LIST_HEAD(&ep->closed);
	INIT_LIST_HEAD(&ep->closed_nests);
	INIT_DELAYED_WORK(&ep->reap_work, xpoll_reap_work_fn);
	INIT_LIST_HEAD(&ep->uevent_list);
	return ep;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_instance_alloc);

static void xpoll_instance_free(struct kref *ref)
{
	struct xpoll_instance *ep = container_of(ref, struct xpoll_instance,
						 ref);

	WARN_ON_ONCE(!RB_EMPTY_ROOT(&ep->rbr.rb_root) ||
		     !list_empty(&ep->closed) || !list_empty(&ep->closed_nests) ||
		     !list_empty(&ep->uevent_list) || ep->uevents);
	/* No item is left, so nothing can queue the work any more. */
	irq_work_sync(&ep->pw_work);
	mutex_destroy(&ep->mtx);
	xpoll_user_put(ep->user);
	/* Walks of the nesting edges may still see it (ctl.c). */
	kfree_rcu(ep, rcu);
}

void xpoll_instance_put(struct xpoll_instance *ep)
{
	kref_put(&ep->ref, xpoll_instance_free);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_instance_put);

/*
 * An instance without a device node, for in-kernel users (KUnit).  Its
 * file behaves exactly as one from open("/dev/xpoll").
 */
struct file *xpoll_instance_new_file(void)
{
	struct xpoll_instance *ep = xpoll_instance_alloc();
	struct file *file;

	if (!ep)
		return ERR_PTR(-ENOMEM);
	file = anon_inode_getfile("[xpoll]", &xpoll_fops, ep, O_RDWR);
	if (IS_ERR(file)) {
		xpoll_instance_put(ep);
		return file;
	}
	ep->file = file;
	return file;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_instance_new_file);

int xpoll_open(struct inode *inode, struct file *file)
{
	struct xpoll_instance *ep = xpoll_instance_alloc();

	if (!ep)
		return -ENOMEM;
	ep->file = file;
	file->private_data = ep;
	/*
	 * The file modes of epoll's anonymous file: lseek() allowed (a no-op,
	 * see xpoll_fops), pread() and pwrite() ESPIPE.
	 */
	file->f_mode &= ~(FMODE_PREAD | FMODE_PWRITE);
	return 0;
}

/* Removes every item; the caller holds a reference on @ep. */
void xpoll_remove_all(struct xpoll_instance *ep)
{
	struct rb_node *rbp;

	mutex_lock(&ep->mtx);
	for (;;) {
		/* Also those a close hands us meanwhile. */
		xpoll_reap_closed(ep);
		rbp = rb_first_cached(&ep->rbr);
		if (!rbp)
			break;
		xpoll_item_remove(ep, rb_entry(rbp, struct xpoll_item, rbn));
		cond_resched();
	}
	xpoll_uevent_remove_all(ep);
	mutex_unlock(&ep->mtx);
}

int xpoll_release(struct inode *inode, struct file *file)
{
	struct xpoll_instance *ep = file->private_data;

	/* As epoll: pollers still queued (poll/select) learn the news. */
	if (waitqueue_active(&ep->poll_wait))
		xpoll_poll_wake(ep, NULL, 0);
	xpoll_remove_all(ep);
	/* No item is left to hold it (wakeup.c). */
	wakeup_source_unregister(ep->ws);
	/* Nothing is left to reap; a queued reap work holds a reference. */
	if (cancel_delayed_work_sync(&ep->reap_work))
		xpoll_instance_put(ep);
	/* Here, not at the last put, which may come under xpoll_topo_lock. */
	xpoll_ring_free(ep);
	xpoll_instance_put(ep);
	return 0;
}

/*
 * The poll of an instance: EPOLLIN | EPOLLRDNORM when at least one ready
 * item is really ready (in a ring instance: when its ring is not empty).
 * @depth counts the instances above us in this poll chain; @repoll_epoll
 * is true when the chain began in one of our own ioctls (so an epoll
 * child may be re-polled, see Nesting in xpoll.h).  Never
 * blocks on ep->mtx: when it cannot be had (contention, or re-entry through
 * a foreign file) or the chain is too deep, the ready list answers alone.
 */
__poll_t xpoll_instance_poll(struct xpoll_instance *ep, poll_table *pt,
			     int depth, bool repoll_epoll)
{
	struct xpoll_item *it, *tmp;
	LIST_HEAD(txlist);
	poll_table npt;
	__poll_t res = 0;
	long ready = 0;

	poll_wait(ep->file, &ep->poll_wait, pt);

	if (READ_ONCE(ep->ring))
		return xpoll_ring_count(ep) ? EPOLLIN | EPOLLRDNORM : 0;
	if (depth > XPOLL_MAX_NESTS || !mutex_trylock(&ep->mtx))
		return xpoll_events_available(ep) ? EPOLLIN | EPOLLRDNORM : 0;

	init_poll_funcptr(&npt, NULL);
	xpoll_start_scan(ep, &txlist);
	list_for_each_entry_safe(it, tmp, &txlist, rdllink) {
		if (xpoll_item_poll(it, &npt, depth + 1, repoll_epoll)) {
			res = EPOLLIN | EPOLLRDNORM;
			break;
		}
		/* Not ready for what it wants, or its file closed. */
		if (xpoll_item_wakeup(it))
			xpoll_wakeup_relax(it);
		list_del_init(&it->rdllink);
		ready--;
	}
	xpoll_done_scan(ep, &txlist, ready);
	mutex_unlock(&ep->mtx);
	return res;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_instance_poll);

__poll_t xpoll_poll(struct file *file, struct poll_table_struct *pt)
{
	return xpoll_instance_poll(file->private_data, pt, 0, false);
}
