// SPDX-License-Identifier: GPL-2.0
/*
 * Target files: their lifetime under xpoll.
 *
 * fs/eventpoll.c unhooks a file's epoll items from __fput()
 * (eventpoll_release()).  A module cannot hook __fput(), so a watched file
 * must be kept alive by a reference, or the wake callback and the re-poll
 * would touch freed memory.  The rule:
 *
 * - Every item is in one of XPOLL_FILE_SHARDS global trees, the shard
 *   picked by hashing the file pointer, keyed by (file, item): the items
 *   that watch one file, in whatever instance, are neighbours there.
 *   There is no per-file object and no table to grow: a watch is one
 *   allocation, the item, and nothing else (this is what keeps a watch
 *   smaller than epoll's).
 * - xpoll holds exactly one reference on a watched file, whatever the
 *   number of its items: the item that finds no neighbour of the same file
 *   when it is inserted takes it (get_file()), the item that finds none
 *   when it is removed drops it (fput()).  Both happen under the shard's
 *   lock, so "none" is exact.  (The in-order neighbours of a new leaf are
 *   its ancestors, so insertion decides on its search path.)
 * - Therefore "the user has closed every descriptor of the file" is
 *   exactly "file_count(file) == 1": only our reference is left.  (A
 *   dup()ed or inherited descriptor, an in-flight SCM_RIGHTS message or an
 *   mmap keep the count above 1; epoll would keep its items then too,
 *   because the file is not released.)  Nothing can raise the count again,
 *   since no descriptor is left to do it with.
 * - From that moment the file's items never report again: the transfer
 *   and the instance poll check the count before re-polling an item and
 *   take it off the ready list instead (xpoll_item_dead()); the transfer
 *   removes it at once.
 * - The reaper, a delayed work that runs every XPOLL_REAP_MS while any
 *   file is watched, visits every instance and removes its dead items, so
 *   the last of them drops the file reference and the file is really
 *   released (a closed socket closes and its peer sees EOF) even if it
 *   never becomes ready again.  In each instance it checks
 *   max(XPOLL_REAP_MIN, items / XPOLL_REAP_SPLIT) items from a cursor (a
 *   (file, fd) key, never dereferenced), dropping ep->mtx every
 *   XPOLL_REAP_BATCH items, so every item is checked at least every
 *   XPOLL_REAP_SPLIT passes without holding a lock across the whole scan.
 * - An instance can be the target of another instance; the outer one then
 *   holds a reference on the inner one's file.  Closing the inner
 *   instance's descriptors lets the reaper drop it, which releases it and
 *   its own targets.  Loops between instances are refused (ELOOP), so such
 *   references never form a cycle.  Residual: a file that is itself in
 *   flight in a UNIX socket watched by the same instance forms a cycle the
 *   UNIX garbage collector cannot see; it lives until the instance closes.
 *
 * Locking
 * - A shard's lock (spinlock) protects its tree: the attach and detach of
 *   its files' items, and so the "first" and "last" decisions above.  ctl
 *   calls on different files rarely share a shard.  Taken under ep->mtx
 *   (and possibly the topology lock); nothing is taken inside it.
 * - xpoll_inst_lock (spinlock): the list of instances the reaper visits.
 *   Instances join it when allocated and leave it when freed; the reaper
 *   takes a reference with kref_get_unless_zero() under the lock, then
 *   drops the lock before taking that instance's mutex.
 */
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "xpoll.h"

#define XPOLL_REAP_MS		100
#define XPOLL_REAP_SPLIT	8
#define XPOLL_REAP_MIN		4096
#define XPOLL_REAP_BATCH	256
#define XPOLL_FILE_SHARD_BITS	8
#define XPOLL_FILE_SHARDS	(1 << XPOLL_FILE_SHARD_BITS)

struct xpoll_file_shard {
	spinlock_t lock;
	struct rb_root items;		/* xpoll_item.fnode, (file, item) order */
};

static struct xpoll_file_shard xpoll_file_shards[XPOLL_FILE_SHARDS];
static atomic_long_t xpoll_nr_files;

static DEFINE_SPINLOCK(xpoll_inst_lock);
static LIST_HEAD(xpoll_instances);
/* Where the running reaper pass is: a bare node in xpoll_instances. */
static struct list_head xpoll_inst_cursor;

static void xpoll_reaper_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(xpoll_reaper, xpoll_reaper_fn);

static struct xpoll_file_shard *xpoll_shard_of(struct file *file)
{
	return &xpoll_file_shards[hash_ptr(file, XPOLL_FILE_SHARD_BITS)];
}

static bool xpoll_same_file(struct rb_node *rbp, struct file *file)
{
	return rbp && rb_entry(rbp, struct xpoll_item, fnode)->file == file;
}

void xpoll_target_attach(struct xpoll_item *it)
{
	struct xpoll_file_shard *sh = xpoll_shard_of(it->file);
	struct rb_node **p = &sh->items.rb_node, *parent = NULL;
	struct xpoll_item *cur;
	bool first = true;

	spin_lock(&sh->lock);
	while (*p) {
		parent = *p;
		cur = rb_entry(parent, struct xpoll_item, fnode);
		if (cur->file == it->file)
			first = false;
		if (it->file < cur->file ||
		    (it->file == cur->file && it < cur))
			p = &parent->rb_left;
		else
			p = &parent->rb_right;
	}
	rb_link_node(&it->fnode, parent, p);
	rb_insert_color(&it->fnode, &sh->items);
	if (first) {
		get_file(it->file);
		atomic_long_inc(&xpoll_nr_files);
	}
	spin_unlock(&sh->lock);
	if (first)
		queue_delayed_work(system_unbound_wq, &xpoll_reaper,
				   msecs_to_jiffies(XPOLL_REAP_MS));
}

/* Unlinks @it; returns the file to fput() if that was its last item. */
struct file *xpoll_target_detach(struct xpoll_item *it)
{
	struct xpoll_file_shard *sh = xpoll_shard_of(it->file);
	bool last;

	spin_lock(&sh->lock);
	last = !xpoll_same_file(rb_prev(&it->fnode), it->file) &&
	       !xpoll_same_file(rb_next(&it->fnode), it->file);
	rb_erase(&it->fnode, &sh->items);
	if (last)
		atomic_long_dec(&xpoll_nr_files);
	spin_unlock(&sh->lock);
	return last ? it->file : NULL;
}

void xpoll_target_track(struct xpoll_instance *ep)
{
	spin_lock(&xpoll_inst_lock);
	list_add_tail(&ep->inst_link, &xpoll_instances);
	spin_unlock(&xpoll_inst_lock);
}

void xpoll_target_untrack(struct xpoll_instance *ep)
{
	spin_lock(&xpoll_inst_lock);
	list_del(&ep->inst_link);
	spin_unlock(&xpoll_inst_lock);
}

/* First item at or after the key (@file, @fd) in @ep's tree. */
static struct rb_node *xpoll_lower_bound(struct xpoll_instance *ep,
					 struct file *file, int fd)
{
	struct rb_node *rbp = ep->rbr.rb_root.rb_node, *found = NULL;
	struct xpoll_item *it;

	while (rbp) {
		it = rb_entry(rbp, struct xpoll_item, rbn);
		if (xpoll_cmp(it->file, it->fd, file, fd) >= 0) {
			found = rbp;
			rbp = rbp->rb_left;
		} else {
			rbp = rbp->rb_right;
		}
	}
	return found;
}

/* One reaper visit of @ep: check a share of its items for dead files. */
static void xpoll_reap_instance(struct xpoll_instance *ep)
{
	struct xpoll_item *it;
	struct rb_node *rbp;
	long budget, n = 0;

	mutex_lock(&ep->mtx);
	budget = max_t(long, XPOLL_REAP_MIN, ep->nitems / XPOLL_REAP_SPLIT);
	rbp = ep->reap_file ? xpoll_lower_bound(ep, ep->reap_file, ep->reap_fd)
			    : rb_first_cached(&ep->rbr);
	while (rbp && n < budget) {
		it = rb_entry(rbp, struct xpoll_item, rbn);
		rbp = rb_next(rbp);
		if (xpoll_item_dead(it))
			xpoll_item_remove(ep, it);
		/* Let ctl and wait calls in between batches. */
		if (!(++n % XPOLL_REAP_BATCH) && rbp) {
			it = rb_entry(rbp, struct xpoll_item, rbn);
			ep->reap_file = it->file;
			ep->reap_fd = it->fd;
			mutex_unlock(&ep->mtx);
			cond_resched();
			mutex_lock(&ep->mtx);
			rbp = xpoll_lower_bound(ep, ep->reap_file, ep->reap_fd);
		}
	}
	if (rbp) {
		it = rb_entry(rbp, struct xpoll_item, rbn);
		ep->reap_file = it->file;
		ep->reap_fd = it->fd;
	} else {
		ep->reap_file = NULL;	/* wrapped: next visit starts over */
	}
	mutex_unlock(&ep->mtx);
}

static void xpoll_reaper_fn(struct work_struct *work)
{
	struct xpoll_instance *ep;

	spin_lock(&xpoll_inst_lock);
	list_move(&xpoll_inst_cursor, &xpoll_instances);
	while (xpoll_inst_cursor.next != &xpoll_instances) {
		ep = list_entry(xpoll_inst_cursor.next, struct xpoll_instance,
				inst_link);
		list_move(&xpoll_inst_cursor, &ep->inst_link);
		/* Zero: being freed, and it has no item left. */
		if (!kref_get_unless_zero(&ep->ref))
			continue;
		spin_unlock(&xpoll_inst_lock);
		xpoll_reap_instance(ep);
		xpoll_instance_put(ep);
		cond_resched();
		spin_lock(&xpoll_inst_lock);
	}
	spin_unlock(&xpoll_inst_lock);

	if (xpoll_nr_targets())
		queue_delayed_work(system_unbound_wq, &xpoll_reaper,
				   msecs_to_jiffies(XPOLL_REAP_MS));
}

/* Asks for a reaper pass now (an item of a closed file was seen). */
void xpoll_reaper_kick(void)
{
	mod_delayed_work(system_unbound_wq, &xpoll_reaper, 0);
}

/* Runs one reaper pass and waits for it (KUnit). */
void xpoll_reap_now(void)
{
	xpoll_reaper_kick();
	flush_delayed_work(&xpoll_reaper);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_reap_now);

/* Distinct files watched by all instances. */
long xpoll_nr_targets(void)
{
	return atomic_long_read(&xpoll_nr_files);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_nr_targets);

int xpoll_target_init(void)
{
	int i;

	for (i = 0; i < XPOLL_FILE_SHARDS; i++) {
		spin_lock_init(&xpoll_file_shards[i].lock);
		xpoll_file_shards[i].items = RB_ROOT;
	}
	list_add(&xpoll_inst_cursor, &xpoll_instances);
	return 0;
}

/* Called once no instance is left, so no item is left either. */
void xpoll_target_exit(void)
{
	cancel_delayed_work_sync(&xpoll_reaper);
	WARN_ON_ONCE(xpoll_nr_targets());
	list_del(&xpoll_inst_cursor);
}
