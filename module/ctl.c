// SPDX-License-Identifier: GPL-2.0
/*
 * XPOLL_IOC_CTL: ADD, MOD and DEL of one target, as epoll_ctl(2).
 *
 * The checks run in epoll's order so that a call with several faults
 * fails with epoll's errno: EBADF (bad fd), EPERM (target cannot be
 * polled), EINVAL (self add, EPOLLEXCLUSIVE misuse), ELOOP (nesting),
 * then, per op, EEXIST / ENOENT / EINVAL (bad op, MOD of an exclusive
 * item), and for ADD ENOSPC (watch limit) and ENOMEM.
 *
 * Nesting edges (an item of instance P watching instance C: the item is
 * the first member of a struct xpoll_nest) are kept in P->children and
 * C->parents.  They are linked under xpoll_topo_lock and unlinked without
 * it, both under xpoll_nest_lock (a spinlock, O(1) holds); the walks below
 * run under xpoll_topo_lock and rcu_read_lock() (edges and instances are
 * freed after a grace period), so they see every edge that was linked
 * before them, and may or may not see one being unlinked.
 *
 * An ADD that can add wakeup paths (the target is an instance, or the
 * instance added to is watched by an instance) is a "full" ADD, as in
 * epoll: it takes xpoll_topo_lock before ep->mtx and holds it until the
 * new item is checked, so full ADDs run one at a time:
 * - the loop and depth check (epoll's rule: levels below the new child +
 *   1 + levels above the parent must not exceed XPOLL_MAX_NESTS; an
 *   epoll file counts as a leaf), before the item is inserted;
 * - the wakeup-path check (epoll's reverse_path_check(), the same limits
 *   and EINVAL), after the item is inserted and before its target is
 *   polled: for the target file, or for every file watched by the new
 *   child instance and the instances below it, the paths from the file
 *   up through the instances that watch it to an unwatched instance are
 *   counted by length; more than 500 of length 1 (the file's watcher is
 *   watched), 100 of 2, 50 of 3 or 10 of 4 refuse the ADD.  Paths only
 *   through instances xpoll can see: an epoll file is a file here.
 * The path check reads the items of the instances below the new child
 * under their mutexes, taken one at a time inside the parent's, and only
 * with mutex_trylock(): xpoll_topo_lock is never held while sleeping on an
 * instance's mutex.  A full ADD that finds one busy (the parent's own, or
 * one below the new child) undoes what it did, drops every lock, waits
 * for that mutex alone and starts again; so an instance whose mutex its
 * owner holds for as long as it likes (a wait stalled on a page fault)
 * delays only the ADDs that involve it, never the global lock.  (epoll
 * sleeps on those mutexes under its global epmutex.)  xpoll_topo_lock is
 * held by a full ADD for O(instances and edges below the child and above
 * the parent) for the loop check, and for O(items of the instances below
 * the child + watchers of their files) for the path check, as epoll holds
 * epmutex for the same walks; and by the first user event ADDed to a
 * watched instance, for the paths above it (xpoll_uevent_path_check(),
 * about 660 parents at most); by nothing else.

 * EPOLLWAKEUP is dropped without CAP_BLOCK_SUSPEND (and always on kernels
 * without CONFIG_PM_SLEEP), exactly as epoll does, so fdinfo and the
 * EPOLLEXCLUSIVE check see the same bits.  When it is kept the item gets
 * a wakeup source, as in epoll (wakeup.c).
 *
 * Per-user accounting: every instance holds a reference on the
 * xpoll_user of the uid that opened it (as epoll charges the creator), and
 * each of its items counts against xpoll_max_user_watches there.
 */
#include <linux/hashtable.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include <linux/xpoll.h>
#include "trace.h"
#include "xpoll.h"

static struct kmem_cache *xpoll_item_cache;

/* An item that watches another instance, with its nesting edge. */
struct xpoll_nest {
	struct xpoll_item item;
	struct list_head child_link;	/* on P->children */
	struct list_head parent_link;	/* on C->parents */
	struct rcu_head rcu;
};

#ifdef CONFIG_64BIT
/*
 * Memory per watch: the item, its first wait entry included, must stay
 * below what epoll spends on one watch (see struct xpoll_item).
 */
static_assert(sizeof(struct xpoll_item) <= 168);
/* The layout the comment on struct xpoll_item relies on. */
static_assert(offsetofend(struct xpoll_item, file) <= 32 &&
	      offsetofend(struct xpoll_item, rdllink) <= 64);
#endif

static struct workqueue_struct *xpoll_reap_wq;
#define XPOLL_REAP_RETRY_MS	100
static DEFINE_MUTEX(xpoll_topo_lock);
static DEFINE_SPINLOCK(xpoll_nest_lock);
static u64 xpoll_loop_gen;
static struct xpoll_instance *xpoll_inserting_into;

/* Wakeup paths allowed from one file, by length (epoll's path_limits). */
static const u32 xpoll_path_limits[XPOLL_MAX_NESTS + 1] = {
	U32_MAX, 500, 100, 50, 10
};

#define XPOLL_PATHS_MAX		1000	/* counts saturate above every limit */
static u64 xpoll_path_gen;

static DEFINE_SPINLOCK(xpoll_users_lock);
static DEFINE_HASHTABLE(xpoll_users, 6);

static struct xpoll_user *xpoll_user_find(kuid_t uid)
{
	struct xpoll_user *u;

	hash_for_each_possible(xpoll_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

struct xpoll_user *xpoll_user_get(kuid_t uid)
{
	struct xpoll_user *u, *nu;

	spin_lock(&xpoll_users_lock);
	u = xpoll_user_find(uid);
	if (u)
		refcount_inc(&u->ref);
	spin_unlock(&xpoll_users_lock);
	if (u)
		return u;

	nu = kzalloc(sizeof(*nu), GFP_KERNEL);
	if (!nu)
		return NULL;
	nu->uid = uid;
	refcount_set(&nu->ref, 1);
	atomic_long_set(&nu->watches, 0);

	spin_lock(&xpoll_users_lock);
	u = xpoll_user_find(uid);
	if (u) {
		refcount_inc(&u->ref);
	} else {
		hash_add(xpoll_users, &nu->node, __kuid_val(uid));
		u = nu;
		nu = NULL;
	}
	spin_unlock(&xpoll_users_lock);
	kfree(nu);
	return u;
}

void xpoll_user_put(struct xpoll_user *u)
{
	bool last;

	spin_lock(&xpoll_users_lock);
	last = refcount_dec_and_test(&u->ref);
	if (last)
		hash_del(&u->node);
	spin_unlock(&xpoll_users_lock);
	if (last) {
		WARN_ON_ONCE(atomic_long_read(&u->watches));
		kfree(u);
	}
}

/* Watches charged to @uid now, or -1 if it has no instance. */
long xpoll_user_watches(kuid_t uid)
{
	struct xpoll_user *u;
	long n = -1;

	spin_lock(&xpoll_users_lock);
	u = xpoll_user_find(uid);
	if (u)
		n = atomic_long_read(&u->watches);
	spin_unlock(&xpoll_users_lock);
	return n;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_user_watches);

/*
 * Charges one watch (an item or a user event) to @ep's user: false, with
 * nothing charged, at max_user_watches.  Given back by the removal.
 */
bool xpoll_watch_charge(struct xpoll_instance *ep)
{
	if (atomic_long_inc_return(&ep->user->watches) >
	    READ_ONCE(xpoll_max_user_watches)) {
		atomic_long_dec(&ep->user->watches);
		return false;
	}
	return true;
}

/* Where a new (file, fd) goes in the interest tree (xpoll_seek()). */
struct xpoll_slot {
	struct rb_node *parent, **link;
	bool leftmost;
};

/*
 * Finds (@file, @fd) in @ep's tree; when it is absent, fills @slot with the
 * place it would take, so that an ADD descends the tree once.  The slot
 * stays valid while ep->mtx is held.
 */
static struct xpoll_item *xpoll_seek(struct xpoll_instance *ep,
				     struct file *file, int fd,
				     struct xpoll_slot *slot)
{
	struct rb_node **p = &ep->rbr.rb_root.rb_node, *parent = NULL;
	bool leftmost = true;
	struct xpoll_item *it;
	int kcmp;

	lockdep_assert_held(&ep->mtx);
	while (*p) {
		parent = *p;
		it = rb_entry(parent, struct xpoll_item, rbn);
		kcmp = xpoll_cmp(file, fd, it->file, it->fd);
		if (kcmp > 0) {
			p = &parent->rb_right;
			leftmost = false;
		} else if (kcmp < 0) {
			p = &parent->rb_left;
		} else {
			return it;
		}
	}
	slot->parent = parent;
	slot->link = p;
	slot->leftmost = leftmost;
	return NULL;
}

struct xpoll_item *xpoll_find(struct xpoll_instance *ep, struct file *file,
			      int fd)
{
	struct xpoll_slot slot;

	return xpoll_seek(ep, file, fd, &slot);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_find);

/* Levels of instances below @ep; > XPOLL_MAX_NESTS on a loop. */
static int xpoll_depth_down(struct xpoll_instance *ep, int depth)
{
	struct xpoll_instance *child;
	struct xpoll_nest *n;
	int result = 0;

	if (ep->gen == xpoll_loop_gen)
		return ep->loop_depth;
	list_for_each_entry_rcu(n, &ep->children, child_link) {
		child = n->item.file->private_data;
		if (child == xpoll_inserting_into || depth > XPOLL_MAX_NESTS)
			result = XPOLL_MAX_NESTS + 1;
		else
			result = max(result,
				     xpoll_depth_down(child, depth + 1) + 1);
		if (result > XPOLL_MAX_NESTS)
			break;
	}
	ep->gen = xpoll_loop_gen;
	ep->loop_depth = result;
	return result;
}

/* Levels of instances above @ep (the graph is acyclic and bounded). */
static int xpoll_depth_up(struct xpoll_instance *ep)
{
	struct xpoll_nest *n;
	int result = 0;

	if (ep->gen == xpoll_loop_gen)
		return ep->loop_depth;
	list_for_each_entry_rcu(n, &ep->parents, parent_link)
		result = max(result, xpoll_depth_up(n->item.ep) + 1);
	ep->gen = xpoll_loop_gen;
	ep->loop_depth = result;
	return result;
}

/* True if adding @to into @ep closes a loop or nests too deep. */
static bool xpoll_loop_check(struct xpoll_instance *ep,
			     struct xpoll_instance *to)
{
	int down, up;

	lockdep_assert_held(&xpoll_topo_lock);
	rcu_read_lock();
	xpoll_inserting_into = ep;
	xpoll_loop_gen++;
	down = xpoll_depth_down(to, 0);
	xpoll_inserting_into = NULL;
	if (down <= XPOLL_MAX_NESTS) {
		xpoll_loop_gen++;
		up = xpoll_depth_up(ep);
	}
	rcu_read_unlock();
	return down > XPOLL_MAX_NESTS || down + 1 + up > XPOLL_MAX_NESTS;
}

/* True if @up has more paths of some length than a file may have. */
static bool xpoll_paths_over(const u32 *up)
{
	int k;

	for (k = 1; k <= XPOLL_MAX_NESTS; k++)
		if (up[k] > xpoll_path_limits[k])
			return true;
	return false;
}

/*
 * The wakeup paths from @ep up to an instance nobody watches, by length
 * (ep->up[k]: paths of k edges), saturated at XPOLL_PATHS_MAX; memoized
 * for the current check.  It stops counting once one length is over its
 * limit (any file @ep watches has too many then), so that it visits at
 * most about 660 parents of an instance, however many there are: it runs
 * under a file tree's spinlock.  Under xpoll_topo_lock and rcu_read_lock().
 */
static const u32 *xpoll_up_paths(struct xpoll_instance *ep, int depth)
{
	struct xpoll_nest *n;
	const u32 *pu;
	int k;

	if (ep->up_gen == xpoll_path_gen)
		return ep->up;
	memset(ep->up, 0, sizeof(ep->up));
	if (list_empty(&ep->parents))
		ep->up[0] = 1;
	list_for_each_entry_rcu(n, &ep->parents, parent_link) {
		if (depth >= XPOLL_MAX_NESTS) {
			/* Deeper than the depth rule allows: too many. */
			ep->up[XPOLL_MAX_NESTS] = XPOLL_PATHS_MAX;
			break;
		}
		pu = xpoll_up_paths(n->item.ep, depth + 1);
		for (k = 0; k < XPOLL_MAX_NESTS; k++)
			ep->up[k + 1] = min_t(u32, ep->up[k + 1] + pu[k],
					      XPOLL_PATHS_MAX);
		if (pu[XPOLL_MAX_NESTS])
			ep->up[XPOLL_MAX_NESTS] = XPOLL_PATHS_MAX;
		if (xpoll_paths_over(ep->up))
			break;
	}
	ep->up_gen = xpoll_path_gen;
	return ep->up;
}

/* Adds the paths of one watcher of a file; false once one is too many. */
static bool xpoll_count_paths(void *arg, struct xpoll_instance *ep)
{
	u32 *count = arg;
	const u32 *up;
	bool ok;
	int k;

	rcu_read_lock();
	up = xpoll_up_paths(ep, 0);
	for (k = 1; k <= XPOLL_MAX_NESTS; k++)
		count[k] = min_t(u32, count[k] + up[k], XPOLL_PATHS_MAX);
	ok = !xpoll_paths_over(count);
	rcu_read_unlock();
	return ok;
}

/* True if @file has no more wakeup paths than epoll allows. */
static bool xpoll_path_check_file(struct file *file)
{
	u32 count[XPOLL_MAX_NESTS + 1] = { 0 };

	return xpoll_target_visit_watchers(file, xpoll_count_paths, count);
}

/*
 * True if no file watched by @c or an instance below it (and no user
 * event of theirs) has more wakeup paths than epoll allows.  Visits each
 * instance once, locking it alone (under the mutex of the instance the new
 * edge leaves from, see the top comment), and keeps each one it is yet to
 * visit referenced.
 */
static int xpoll_path_check_below(struct xpoll_instance *c,
				  struct xpoll_instance **busy)
{
	u32 count[XPOLL_MAX_NESTS + 1];
	struct xpoll_instance *y, *z;
	struct xpoll_item *it;
	struct rb_node *rbp;
	struct file *file;
	LIST_HEAD(todo);
	int err = 0;

	kref_get(&c->ref);
	c->visit_gen = xpoll_path_gen;
	list_add_tail(&c->check_link, &todo);
	while ((y = list_first_entry_or_null(&todo, struct xpoll_instance,
					     check_link))) {
		list_del(&y->check_link);
		if (err) {
			xpoll_instance_put(y);
			continue;
		}
		if (!mutex_trylock(&y->mtx)) {
			/* Never wait under the global lock: see the top. */
			*busy = y;
			err = -EAGAIN;
			continue;
		}
		for (rbp = rb_first_cached(&y->rbr); !err && rbp;
		     rbp = rb_next(rbp)) {
			it = rb_entry(rbp, struct xpoll_item, rbn);
			/* A file being closed adds no path any more. */
			file = xpoll_item_fget(it);
			if (!file)
				continue;
			if (file->f_op != &xpoll_fops) {
				if (!xpoll_path_check_file(file))
					err = -EINVAL;
			} else {
				z = file->private_data;
				if (z->visit_gen != xpoll_path_gen) {
					z->visit_gen = xpoll_path_gen;
					kref_get(&z->ref);
					list_add_tail(&z->check_link, &todo);
				}
			}
			fput(file);
		}
		/* User events: as files watched by @y alone (uevent.c). */
		if (!err && !list_empty(&y->uevent_list)) {
			memset(count, 0, sizeof(count));
			if (!xpoll_count_paths(count, y))
				err = -EINVAL;
		}
		mutex_unlock(&y->mtx);
		xpoll_instance_put(y);
		cond_resched();
	}
	return err;
}

/*
 * The wakeup-path check of a full ADD of @it (see the top comment): 0,
 * -EINVAL if it adds too many paths, or -EAGAIN with *@busy (referenced)
 * the instance whose mutex it could not take.
 */
static int xpoll_path_check(struct xpoll_item *it,
			    struct xpoll_instance **busy)
{
	lockdep_assert_held(&xpoll_topo_lock);
	xpoll_path_gen++;
	if (it->file->f_op == &xpoll_fops)
		return xpoll_path_check_below(it->file->private_data, busy);
	return xpoll_path_check_file(it->file) ? 0 : -EINVAL;
}

/*
 * The wakeup-path check of the first user event of @ep, which instances
 * watch: as for a file that @ep alone watches.  0 or -EINVAL.  Takes
 * xpoll_topo_lock, for O(parents above @ep), and no instance's mutex.
 */
int xpoll_uevent_path_check(struct xpoll_instance *ep)
{
	u32 count[XPOLL_MAX_NESTS + 1] = { 0 };
	bool ok;

	mutex_lock(&xpoll_topo_lock);
	xpoll_path_gen++;
	ok = xpoll_count_paths(count, ep);
	mutex_unlock(&xpoll_topo_lock);
	return ok ? 0 : -EINVAL;
}

/* Drops the nesting edge of @it, an item that watches an instance. */
static void xpoll_nest_unlink(struct xpoll_item *it)
{
	struct xpoll_nest *n = container_of(it, struct xpoll_nest, item);

	spin_lock(&xpoll_nest_lock);
	list_del_rcu(&n->child_link);
	list_del_rcu(&n->parent_link);
	spin_unlock(&xpoll_nest_lock);
}

static void xpoll_item_free(struct xpoll_item *it, bool nested)
{
	/* A walk under RCU may still be reading an edge: see the top. */
	if (nested)
		kfree_rcu(container_of(it, struct xpoll_nest, item), rcu);
	else
		kmem_cache_free(xpoll_item_cache, it);
}

/*
 * Unhooks @it's wait entries (after which no callback runs on it) and
 * drops its nesting edge; returns true if it is a nest.  Called by
 * target.c under the item's file tree lock as it takes @it out of that
 * tree, so that the file is alive and its close cannot do the same at
 * the same time.
 */
bool xpoll_item_unhook(struct xpoll_item *it)
{
	bool nested = it->file->f_op == &xpoll_fops;

	xpoll_unregister_item(it);
	if (nested)
		xpoll_nest_unlink(it);
	return nested;
}

/*
 * The close of @it's file took @it out of its file's tree and unhooked it
 * (target.c, under the tree lock, which keeps ep alive): the item goes on
 * its instance's closed list, for the instance's reap work (or whoever
 * takes ep->mtx first) to remove.  Its first wait entry, on no queue any
 * more, is its link there.  The watch stays charged until then, so that
 * an instance whose mutex its owner holds (a wait stalled on a page
 * fault) cannot keep more closed items than the user may have watches.
 */
void xpoll_item_orphan(struct xpoll_item *it, bool nested)
{
	struct xpoll_instance *ep = it->ep;
	unsigned long flags;

	trace_xpoll_release(ep->id, it->fd);
	/* Never reported again: it keeps the system awake no longer. */
	if (xpoll_item_wakeup(it))
		xpoll_wakeup_relax(it);
	kref_get(&ep->ref);
	spin_lock_irqsave(&ep->lock, flags);
	if (ep->ring)
		xpoll_ring_withdraw(ep, it);
	list_add_tail(&it->pwq.wait.entry,
		      nested ? &ep->closed_nests : &ep->closed);
	spin_unlock_irqrestore(&ep->lock, flags);
	/* Not the last reference: the pending work holds one. */
	if (!queue_delayed_work(xpoll_reap_wq, &ep->reap_work, 0))
		xpoll_instance_put(ep);
}

/*
 * Takes @it, out of its file's tree and unhooked, out of @ep, gives the
 * watch back and frees it.
 */
static void xpoll_item_unlink(struct xpoll_instance *ep,
			      struct xpoll_item *it, bool nested)
{
	atomic_long_dec(&ep->user->watches);
	rb_erase_cached(&it->rbn, &ep->rbr);
	WRITE_ONCE(ep->stats.items, ep->stats.items - 1);
	if (ep->ring)
		xpoll_ring_slot_put(ep, it);
	spin_lock_irq(&ep->lock);
	if (!list_empty(&it->rdllink)) {
		list_del_init(&it->rdllink);
		xpoll_count_ready(ep, -1);
	}
	spin_unlock_irq(&ep->lock);
	if (xpoll_item_wakeup(it))
		xpoll_wakeup_detach(it);
	xpoll_item_free(it, nested);
}

/*
 * Removes the items that their files' close handed to @ep
 * (xpoll_item_orphan()).  Under ep->mtx, never during a scan.  Whoever
 * looks items up by key calls it first: a closed item's file may have
 * been freed, and a new file may have its address.
 */
void xpoll_reap_closed(struct xpoll_instance *ep)
{
	struct xpoll_item *it, *tmp;
	LIST_HEAD(files);
	LIST_HEAD(nests);

	lockdep_assert_held(&ep->mtx);
	if (list_empty(&ep->closed) && list_empty(&ep->closed_nests))
		return;
	spin_lock_irq(&ep->lock);
	list_splice_init(&ep->closed, &files);
	list_splice_init(&ep->closed_nests, &nests);
	spin_unlock_irq(&ep->lock);
	list_for_each_entry_safe(it, tmp, &files, pwq.wait.entry)
		xpoll_item_unlink(ep, it, false);
	list_for_each_entry_safe(it, tmp, &nests, pwq.wait.entry)
		xpoll_item_unlink(ep, it, true);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_reap_closed);

/*
 * The reap work of an instance.  It never sleeps on the instance's mutex,
 * which its owner may hold for as long as it likes: a busy instance is
 * tried again XPOLL_REAP_RETRY_MS later (its next ctl or release reaps
 * too), so that no worker of xpoll_reap_wq, which serves every user,
 * waits for one user.
 */
void xpoll_reap_work_fn(struct work_struct *work)
{
	struct xpoll_instance *ep = container_of(to_delayed_work(work),
						 struct xpoll_instance,
						 reap_work);

	if (!mutex_trylock(&ep->mtx)) {
		/* The queued work keeps our reference; else we drop it. */
		if (!queue_delayed_work(xpoll_reap_wq, &ep->reap_work,
					msecs_to_jiffies(XPOLL_REAP_RETRY_MS)))
			xpoll_instance_put(ep);
		return;
	}
	xpoll_reap_closed(ep);
	mutex_unlock(&ep->mtx);
	xpoll_instance_put(ep);
}

/*
 * Removes @it from @ep: takes it out of its file's tree and unhooks its
 * wait entries (target.c), then takes it off the tree and the ready list
 * and frees it.  Returns false, having done nothing, when its file's
 * close has just handed it to @ep's closed list (xpoll_reap_closed()
 * removes it).  Never called during a scan of the ready list (the ovflist
 * may point at items then).
 */
bool xpoll_item_remove(struct xpoll_instance *ep, struct xpoll_item *it)
{
	bool nested;

	lockdep_assert_held(&ep->mtx);
	if (!xpoll_target_detach(it, &nested))
		return false;
	xpoll_item_unlink(ep, it, nested);
	return true;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_item_remove);

/* An ADD or a MOD found @it ready for @revents: queue it, or post it. */
static void xpoll_make_ready(struct xpoll_instance *ep, struct xpoll_item *it,
			     __poll_t revents)
{
	bool pwake = false, queued;

	spin_lock_irq(&ep->lock);
	if (ep->ring) {
		queued = xpoll_ring_post(ep, it, revents);
	} else {
		queued = list_empty(&it->rdllink);
		if (queued) {
			list_add_tail(&it->rdllink, &ep->rdllist);
			xpoll_count_ready(ep, 1);
			if (xpoll_item_wakeup(it))
				xpoll_wakeup_stay_awake(it);
		}
	}
	if (queued) {
		/* ep->wq only changes under ep->lock, held here. */
		if (waitqueue_active(&ep->wq))
			wake_up(&ep->wq);
		/* A poller queueing itself now re-polls us afterwards. */
		if (waitqueue_active(&ep->poll_wait))
			pwake = true;
	}
	spin_unlock_irq(&ep->lock);
	if (pwake)
		xpoll_poll_wake(ep, NULL, 0);
}

/* A full ADD (see the top comment): the topology lock, and what it met. */
struct xpoll_full {
	bool held;			/* xpoll_topo_lock */
	struct xpoll_instance *busy;	/* whose mutex it could not take */
};

static int xpoll_insert(struct xpoll_instance *ep, struct xpoll_slot *slot,
			struct file *tfile, int fd, __poll_t events, u64 data,
			enum xpoll_kind kind, struct xpoll_full *full)
{
	struct xpoll_nest *nest = NULL;
	struct xpoll_item *it;
	__poll_t revents;
	bool ok;
	int err;

	if (!xpoll_watch_charge(ep))
		return -ENOSPC;
	if (kind == XPOLL_KIND_XPOLL) {
		nest = kzalloc(sizeof(*nest), GFP_KERNEL_ACCOUNT);
		it = nest ? &nest->item : NULL;
	} else {
		it = kmem_cache_zalloc(xpoll_item_cache, GFP_KERNEL);
	}
	if (!it) {
		atomic_long_dec(&ep->user->watches);
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&it->rdllink);
	it->next = XPOLL_UNACTIVE;
	it->ep = ep;
	it->file = tfile;
	it->fd = fd;
	it->events = events;
	it->data = data;
	if (ep->ring) {
		err = xpoll_ring_slot_get(ep, it);
		if (err)
			goto out_free;
	}

	err = xpoll_target_attach(it);
	if (err) {
		if (ep->ring)
			xpoll_ring_slot_put(ep, it);
		goto out_free;
	}
	rb_link_node(&it->rbn, slot->parent, slot->link);
	rb_insert_color_cached(&it->rbn, &ep->rbr, slot->leftmost);
	WRITE_ONCE(ep->stats.items, ep->stats.items + 1);
	if (nest) {
		struct xpoll_instance *child = tfile->private_data;

		spin_lock(&xpoll_nest_lock);
		list_add_tail_rcu(&nest->child_link, &ep->children);
		list_add_tail_rcu(&nest->parent_link, &child->parents);
		spin_unlock(&xpoll_nest_lock);
	}
	if (full->held) {
		err = xpoll_path_check(it, &full->busy);
		mutex_unlock(&xpoll_topo_lock);
		full->held = false;
		/* Too many wakeup paths: refused before any callback can run. */
		if (err) {
			it->events &= ~EPOLLWAKEUP;
			xpoll_item_remove(ep, it);
			return err;
		}
	}
	if (events & EPOLLWAKEUP) {
		err = xpoll_wakeup_attach(ep, it, tfile);
		if (err) {
			/* Removal looks for a source only with the bit set. */
			it->events &= ~EPOLLWAKEUP;
			xpoll_item_remove(ep, it);
			return err;
		}
	}

	/* From here on the callback can run on the item. */
	revents = xpoll_register_poll(it, &ok);
	if (unlikely(!ok)) {
		xpoll_item_remove(ep, it);
		return -ENOMEM;
	}
	xpoll_busy_add(ep, tfile);
	if (revents)
		xpoll_make_ready(ep, it, revents);
	return 0;

out_free:
	xpoll_item_free(it, kind == XPOLL_KIND_XPOLL);
	atomic_long_dec(&ep->user->watches);
	return err;
}

/*
 * MOD of @it (a file's, or with @tfile NULL a user event's): the new
 * interest set and data, then a re-poll that reports it if it is ready.
 */
void xpoll_item_modify(struct xpoll_instance *ep, struct xpoll_item *it,
		       struct file *tfile, __poll_t events, u64 data)
{
	__poll_t revents;
	poll_table pt;

	/* As epoll: a source that cannot be had is done without. */
	if ((events & EPOLLWAKEUP) && !xpoll_item_wakeup(it)) {
		if (xpoll_wakeup_attach(ep, it, tfile))
			events &= ~EPOLLWAKEUP;
	} else if (!(events & EPOLLWAKEUP) && xpoll_item_wakeup(it)) {
		xpoll_wakeup_detach(it);
	}
	if (ep->ring)
		xpoll_ring_modify(ep, it, events, data);
	else
		WRITE_ONCE(it->events, events);
	it->data = data;
	/*
	 * Publish the new mask before polling: either the callback sees it
	 * or the poll below sees the event (pairs with wq_has_sleeper()).
	 */
	smp_mb();
	init_poll_funcptr(&pt, NULL);
	revents = xpoll_item_poll(it, &pt, 1, true);
	if (revents)
		xpoll_make_ready(ep, it, revents);
}

int xpoll_ctl_file(struct xpoll_instance *ep, int op, struct file *tfile,
		   int fd, __poll_t events, u64 data)
{
	struct epoll_event ev = { .events = events, .data = data };
	struct xpoll_full full = { };
	struct xpoll_slot slot;
	struct xpoll_item *it;
	enum xpoll_kind kind;
	int err;

	if (!file_can_poll(tfile))
		return -EPERM;
	if (op != XPOLL_CTL_DEL)
		ep_take_care_of_epollwakeup(&ev);
	if (tfile == ep->file)
		return -EINVAL;

	/* Only an ADD needs it; MOD and DEL use the item's. */
	kind = op == XPOLL_CTL_ADD ? xpoll_kind_of(tfile) : XPOLL_KIND_FILE;
	if (op != XPOLL_CTL_DEL && (ev.events & EPOLLEXCLUSIVE)) {
		if (op == XPOLL_CTL_MOD)
			return -EINVAL;
		if (op == XPOLL_CTL_ADD &&
		    (kind != XPOLL_KIND_FILE ||
		     (ev.events & ~XPOLL_EXCLUSIVE_OK_BITS)))
			return -EINVAL;
	}

	/*
	 * Closed items first, outside the global lock: freeing them may sleep
	 * (wakeup.c).  Those closed after this are reaped under the locks.
	 */
	if (unlikely(!list_empty(&ep->closed) ||
		     !list_empty(&ep->closed_nests))) {
		mutex_lock(&ep->mtx);
		xpoll_reap_closed(ep);
		mutex_unlock(&ep->mtx);
	}
again:
	/*
	 * A full ADD (see the top comment).  Whether @ep is watched is read
	 * without a lock, as epoll reads f_ep: an ADD that links an edge above
	 * @ep at this very moment may let this one path through unchecked.
	 */
	if (op == XPOLL_CTL_ADD &&
	    (kind == XPOLL_KIND_XPOLL || !list_empty(&ep->parents))) {
		mutex_lock(&xpoll_topo_lock);
		full.held = true;
		if (!mutex_trylock(&ep->mtx)) {
			/* Never wait under the global lock: see the top. */
			mutex_unlock(&xpoll_topo_lock);
			full.held = false;
			kref_get(&ep->ref);
			full.busy = ep;
			goto wait_busy;
		}
	} else {
		mutex_lock(&ep->mtx);
	}
	xpoll_reap_closed(ep);
	/* Under ep->mtx: a ring's setup takes it too. */
	if (op != XPOLL_CTL_DEL && xpoll_ring_check_events(ep, events)) {
		err = -EINVAL;
		goto out;
	}
	if (op == XPOLL_CTL_ADD && kind == XPOLL_KIND_XPOLL &&
	    xpoll_loop_check(ep, tfile->private_data)) {
		err = -ELOOP;
		goto out;
	}

	it = xpoll_seek(ep, tfile, fd, &slot);
	err = -EINVAL;
	switch (op) {
	case XPOLL_CTL_ADD:
		if (it) {
			err = -EEXIST;
			break;
		}
		err = xpoll_insert(ep, &slot, tfile, fd,
				   ev.events | EPOLLERR | EPOLLHUP, ev.data,
				   kind, &full);
		break;
	case XPOLL_CTL_DEL:
		if (!it) {
			err = -ENOENT;
			break;
		}
		xpoll_item_remove(ep, it);
		err = 0;
		break;
	case XPOLL_CTL_MOD:
		if (!it) {
			err = -ENOENT;
			break;
		}
		if (!(it->events & EPOLLEXCLUSIVE)) {
			xpoll_item_modify(ep, it, tfile, ev.events |
					  EPOLLERR | EPOLLHUP, ev.data);
			err = 0;
		}
		break;
	}
out:
	if (full.held)
		mutex_unlock(&xpoll_topo_lock);
	mutex_unlock(&ep->mtx);
	if (err != -EAGAIN)
		return err;
wait_busy:
	/* Wait for the busy instance with no lock held, then start again. */
	err = mutex_lock_killable(&full.busy->mtx);
	if (!err)
		mutex_unlock(&full.busy->mtx);
	xpoll_instance_put(full.busy);
	full.busy = NULL;
	if (err)
		return err;
	goto again;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_ctl_file);

int xpoll_ctl_fd(struct xpoll_instance *ep, int op, int fd, __poll_t events,
		 u64 data)
{
	struct fd tf = fdget(fd);
	int err;

	if (!tf.file)
		return -EBADF;
	err = xpoll_ctl_file(ep, op, tf.file, fd, events, data);
	fdput(tf);
	return err;
}

static int xpoll_ctl_apply(struct xpoll_instance *ep,
			   const struct xpoll_ctl *c)
{
	if ((c->flags & ~XPOLL_CTL_USER) || c->reserved)
		return -EINVAL;
	if (c->flags & XPOLL_CTL_USER)
		return xpoll_uevent_ctl(ep, c);
	if (c->key)
		return -EINVAL;
	return xpoll_ctl_fd(ep, c->op, c->fd, (__force __poll_t)c->events,
			    c->data);
}

/* One change, from XPOLL_IOC_CTL or from a batch (batch.c), counted. */
int xpoll_ctl_one(struct xpoll_instance *ep, const struct xpoll_ctl *c)
{
	int res = xpoll_ctl_apply(ep, c);

	xpoll_ctl_done(ep, c, res);
	return res;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_ctl_one);

int xpoll_ctl_init(void)
{
	/* 8-byte alignment: see the layout of struct xpoll_item. */
	xpoll_item_cache = kmem_cache_create("xpoll_item",
					     sizeof(struct xpoll_item), 8,
					     SLAB_ACCOUNT, NULL);
	if (!xpoll_item_cache)
		return -ENOMEM;
	xpoll_reap_wq = alloc_workqueue("xpoll_reap", WQ_UNBOUND, 0);
	if (!xpoll_reap_wq) {
		kmem_cache_destroy(xpoll_item_cache);
		return -ENOMEM;
	}
	return 0;
}

/* Called once no instance file is left: drains the reap works first. */
void xpoll_ctl_exit(void)
{
	destroy_workqueue(xpoll_reap_wq);
	kmem_cache_destroy(xpoll_item_cache);
}
