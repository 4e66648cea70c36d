// SPDX-License-Identifier: GPL-2.0
/*
 * Target files: their lifetime under xpoll.
 *
 * fs/eventpoll.c unhooks a file's epoll items from __fput()
 * (eventpoll_release()).  A module cannot hook __fput(), so a watched file
 * must be kept alive by a reference, or the wake callback and the re-poll
 * would touch freed memory.  The rule:
 *
 * - Every watched struct file has exactly one struct xpoll_target, found in
 *   a global hash keyed by the file pointer.  It holds exactly one
 *   reference on the file (get_file() when its first item is added,
 *   fput() when its last item goes) and lists the items of every instance
 *   that watch the file.
 * - Therefore "the user has closed every descriptor of the file" is
 *   exactly "file_count(file) == 1": only our reference is left.  (A
 *   dup()ed or inherited descriptor, an in-flight SCM_RIGHTS message or an
 *   mmap keep the count above 1; epoll would keep its items then too,
 *   because the file is not released.)
 * - From that moment the file's items never report again: the transfer
 *   and the instance poll check the count before re-polling an item and
 *   take it off the ready list instead (xpoll_item_dead()); the transfer
 *   removes it at once.
 * - The reaper, a delayed work that runs every XPOLL_REAP_MS while any
 *   target exists, finds the targets with a count of 1, removes all their
 *   items (taking a reference on each instance, then its mutex), and drops
 *   the file reference, so the file is really released (a closed socket
 *   closes and its peer sees EOF) within about a second even if it never
 *   becomes ready again.  Each pass looks at max(XPOLL_REAP_MIN,
 *   targets / XPOLL_REAP_SPLIT) targets from a cursor kept in the scan
 *   list, dropping the lock every XPOLL_REAP_BATCH, so that every target is
 *   checked at least once per second even with a million of them, without
 *   holding a lock across the whole scan.  Lookups are O(1) (rhashtable).
 * - An instance can be the target of another instance; the outer one then
 *   holds a reference on the inner one's file.  Closing the inner
 *   instance's descriptors lets the reaper drop it, which releases it and
 *   its own targets.  Loops between instances are refused (ELOOP), so such
 *   references never form a cycle.  Residual: a file that is itself in
 *   flight in a UNIX socket watched by the same instance forms a cycle the
 *   UNIX garbage collector cannot see; it lives until the instance closes.
 *
 * Locking: xpoll_reg_lock (mutex) protects the hash, the scan list, every
 * target->items list and target->dead; it is taken under ep->mtx (and
 * possibly the topology lock) and nothing is taken inside it.  Items do
 * not point at their target: removal finds it in the hash by file.  Order with
 * the instance is therefore ep->mtx -> xpoll_reg_lock; the reaper drops
 * the registry lock before taking an instance mutex.  A target marked dead
 * belongs to the reaper: it is out of the hash and the scan list, and the
 * reaper frees it once its last item is gone.
 */
#include <linux/file.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "xpoll.h"

#define XPOLL_REAP_MS		100
#define XPOLL_REAP_SPLIT	8
#define XPOLL_REAP_MIN		4096
#define XPOLL_REAP_BATCH	256

struct xpoll_target {
	struct rhash_head node;
	struct file *file;		/* the hash key; one reference */
	struct hlist_head items;	/* xpoll_item.tlink */
	struct list_head scan;		/* xpoll_scan_list, or reaper's */
	bool dead;
};

static const struct rhashtable_params xpoll_target_params = {
	.key_len = sizeof(struct file *),
	.key_offset = offsetof(struct xpoll_target, file),
	.head_offset = offsetof(struct xpoll_target, node),
	.automatic_shrinking = true,
};

static DEFINE_MUTEX(xpoll_reg_lock);
static struct rhashtable xpoll_targets;
static LIST_HEAD(xpoll_scan_list);
/* Where the next reaper pass starts: a bare node in xpoll_scan_list. */
static struct list_head xpoll_scan_cursor;
static long xpoll_target_count;
static struct kmem_cache *xpoll_target_cache;

static void xpoll_reaper_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(xpoll_reaper, xpoll_reaper_fn);

static void xpoll_reaper_schedule(void)
{
	queue_delayed_work(system_unbound_wq, &xpoll_reaper,
			   msecs_to_jiffies(XPOLL_REAP_MS));
}

int xpoll_target_attach(struct xpoll_item *it)
{
	struct xpoll_target *t;
	int err;

	mutex_lock(&xpoll_reg_lock);
	t = rhashtable_lookup_fast(&xpoll_targets, &it->file,
				   xpoll_target_params);
	if (!t) {
		t = kmem_cache_zalloc(xpoll_target_cache, GFP_KERNEL);
		if (!t) {
			mutex_unlock(&xpoll_reg_lock);
			return -ENOMEM;
		}
		t->file = it->file;
		INIT_HLIST_HEAD(&t->items);
		err = rhashtable_insert_fast(&xpoll_targets, &t->node,
					     xpoll_target_params);
		if (err) {
			mutex_unlock(&xpoll_reg_lock);
			kmem_cache_free(xpoll_target_cache, t);
			return -ENOMEM;
		}
		get_file(t->file);
		list_add_tail(&t->scan, &xpoll_scan_list);
		xpoll_target_count++;
	}
	hlist_add_head(&it->tlink, &t->items);
	mutex_unlock(&xpoll_reg_lock);
	xpoll_reaper_schedule();
	return 0;
}

/* Unlinks @it; returns the file to fput() if that was its last item. */
struct file *xpoll_target_detach(struct xpoll_item *it)
{
	struct file *file = NULL;
	struct xpoll_target *t;

	mutex_lock(&xpoll_reg_lock);
	hlist_del_init(&it->tlink);
	/* Not found: the target is dead and the reaper owns it. */
	t = rhashtable_lookup_fast(&xpoll_targets, &it->file,
				   xpoll_target_params);
	if (t && hlist_empty(&t->items)) {
		rhashtable_remove_fast(&xpoll_targets, &t->node,
				       xpoll_target_params);
		list_del(&t->scan);
		xpoll_target_count--;
		file = t->file;
		kmem_cache_free(xpoll_target_cache, t);
	}
	mutex_unlock(&xpoll_reg_lock);
	return file;
}

/* Removes every item of a dead target, then drops the file. */
static void xpoll_reap_target(struct xpoll_target *t)
{
	struct xpoll_instance *ep;
	struct hlist_node *tmp;
	struct xpoll_item *it;
	HLIST_HEAD(mine);

	mutex_lock(&xpoll_reg_lock);
	while (!hlist_empty(&t->items)) {
		ep = hlist_entry(t->items.first, struct xpoll_item, tlink)->ep;
		/* Alive: its item is still listed under the lock we hold. */
		kref_get(&ep->ref);
		mutex_unlock(&xpoll_reg_lock);

		mutex_lock(&ep->mtx);
		mutex_lock(&xpoll_reg_lock);
		hlist_for_each_entry_safe(it, tmp, &t->items, tlink) {
			if (it->ep == ep) {
				hlist_del(&it->tlink);
				hlist_add_head(&it->tlink, &mine);
			}
		}
		mutex_unlock(&xpoll_reg_lock);
		hlist_for_each_entry_safe(it, tmp, &mine, tlink)
			xpoll_item_remove(ep, it);
		mutex_unlock(&ep->mtx);
		xpoll_instance_put(ep);

		mutex_lock(&xpoll_reg_lock);
	}
	mutex_unlock(&xpoll_reg_lock);
	fput(t->file);
	kmem_cache_free(xpoll_target_cache, t);
}

static void xpoll_reaper_fn(struct work_struct *work)
{
	struct xpoll_target *t, *tmp;
	long budget, n = 0;
	bool wrapped = false;
	LIST_HEAD(dead);

	mutex_lock(&xpoll_reg_lock);
	budget = max_t(long, XPOLL_REAP_MIN,
		       xpoll_target_count / XPOLL_REAP_SPLIT);
	budget = min(budget, xpoll_target_count);
	while (n < budget) {
		if (xpoll_scan_cursor.next == &xpoll_scan_list) {
			if (wrapped)
				break;
			wrapped = true;
			list_move(&xpoll_scan_cursor, &xpoll_scan_list);
			continue;
		}
		t = list_entry(xpoll_scan_cursor.next, struct xpoll_target,
			       scan);
		list_move(&xpoll_scan_cursor, &t->scan);
		n++;
		if (file_count(t->file) == 1) {
			t->dead = true;
			rhashtable_remove_fast(&xpoll_targets, &t->node,
					       xpoll_target_params);
			list_move_tail(&t->scan, &dead);
			xpoll_target_count--;
		}
		/* Let ctl calls and the scheduler in between batches. */
		if (!(n % XPOLL_REAP_BATCH)) {
			mutex_unlock(&xpoll_reg_lock);
			cond_resched();
			mutex_lock(&xpoll_reg_lock);
			budget = min(budget, xpoll_target_count);
		}
	}
	mutex_unlock(&xpoll_reg_lock);

	list_for_each_entry_safe(t, tmp, &dead, scan) {
		list_del(&t->scan);
		xpoll_reap_target(t);
		cond_resched();
	}

	if (READ_ONCE(xpoll_target_count))
		xpoll_reaper_schedule();
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

long xpoll_nr_targets(void)
{
	return READ_ONCE(xpoll_target_count);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_nr_targets);

int xpoll_target_init(void)
{
	int err;

	xpoll_target_cache = kmem_cache_create("xpoll_target",
					       sizeof(struct xpoll_target), 0,
					       SLAB_ACCOUNT, NULL);
	if (!xpoll_target_cache)
		return -ENOMEM;
	err = rhashtable_init(&xpoll_targets, &xpoll_target_params);
	if (err) {
		kmem_cache_destroy(xpoll_target_cache);
		return err;
	}
	list_add(&xpoll_scan_cursor, &xpoll_scan_list);
	return 0;
}

/* Called once no instance is left, so no target is left either. */
void xpoll_target_exit(void)
{
	cancel_delayed_work_sync(&xpoll_reaper);
	WARN_ON_ONCE(xpoll_target_count);
	list_del(&xpoll_scan_cursor);
	rhashtable_destroy(&xpoll_targets);
	kmem_cache_destroy(xpoll_target_cache);
}
