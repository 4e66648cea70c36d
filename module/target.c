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
 *   file is watched (the ADD that makes the count of watched files 1
 *   starts it, and each pass re-arms it while the count is not 0), walks
 *   the shards from a cursor (a (shard, file, item) key, only compared,
 *   never dereferenced) and removes the items of dead
 *   files, so the last of them drops the file reference and the file is
 *   really released (a closed socket closes and its peer sees EOF) even if
 *   it never becomes ready again.  Each pass checks max(XPOLL_REAP_MIN,
 *   files / XPOLL_REAP_SPLIT) items, XPOLL_REAP_BATCH at a time under a
 *   shard lock, so every item is checked at least every XPOLL_REAP_SPLIT
 *   passes.  It scans without any instance's mutex: it takes one only to
 *   remove an item it found dead, after dropping the shard lock, and then
 *   looks the item up again by (file, fd) and re-checks it.
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
 * - The reaper holds a reference on the instance of each item it means to
 *   remove, taken under the shard lock while the item is still in the
 *   tree: an instance with items left has not finished ->release, so its
 *   count is not zero then.
 * - Under a shard lock alone the reaper reads an item's ep, file and fd:
 *   they are set before the item enters its shard and never change.
 * - xpoll_reap_pos, the reaper's cursor, is touched by the reaper work
 *   alone, and a work item never runs twice at once: it needs no lock.
 */
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "xpoll.h"

#define XPOLL_REAP_MS		100
#define XPOLL_REAP_SPLIT	8
#define XPOLL_REAP_MIN		4096
#define XPOLL_REAP_BATCH	64
#define XPOLL_FILE_SHARD_BITS	8
#define XPOLL_FILE_SHARDS	BIT(XPOLL_FILE_SHARD_BITS)

struct xpoll_file_shard {
	spinlock_t lock;		/* the tree below (see the top comment) */
	struct rb_root items;		/* xpoll_item.fnode, (file, item) order */
};

static struct xpoll_file_shard xpoll_file_shards[XPOLL_FILE_SHARDS];
static atomic_long_t xpoll_nr_files;

/* Where the reaper resumes: a shard, and a key in it (NULL: its start). */
static struct {
	unsigned int shard;
	struct file *file;
	struct xpoll_item *item;
} xpoll_reap_pos;

static void xpoll_reaper_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(xpoll_reaper, xpoll_reaper_fn);

static struct xpoll_file_shard *xpoll_shard_of(struct file *file)
{
	return &xpoll_file_shards[hash_ptr(file, XPOLL_FILE_SHARD_BITS)];
}

/* Shard order: by file pointer, then by item address (values only). */
static bool xpoll_key_less(struct file *f1, struct xpoll_item *i1,
			   struct file *f2, struct xpoll_item *i2)
{
	return f1 < f2 || (f1 == f2 && i1 < i2);
}

static bool xpoll_same_file(struct rb_node *rbp, struct file *file)
{
	return rbp && rb_entry(rbp, struct xpoll_item, fnode)->file == file;
}

void xpoll_target_attach(struct xpoll_item *it)
{
	struct xpoll_file_shard *sh = xpoll_shard_of(it->file);
	struct rb_node **p = &sh->items.rb_node, *parent = NULL;
	bool first = true, kick = false;
	struct xpoll_item *cur;

	spin_lock(&sh->lock);
	while (*p) {
		parent = *p;
		cur = rb_entry(parent, struct xpoll_item, fnode);
		if (cur->file == it->file)
			first = false;
		if (xpoll_key_less(it->file, it, cur->file, cur))
			p = &parent->rb_left;
		else
			p = &parent->rb_right;
	}
	rb_link_node(&it->fnode, parent, p);
	rb_insert_color(&it->fnode, &sh->items);
	if (first) {
		get_file(it->file);
		/* The reaper re-arms itself while any file is watched. */
		kick = atomic_long_inc_return(&xpoll_nr_files) == 1;
	}
	spin_unlock(&sh->lock);
	if (kick)
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

/* First item at or after the key (@file, @it) in @sh (NULL @file: first). */
static struct rb_node *xpoll_shard_seek(struct xpoll_file_shard *sh,
					struct file *file,
					struct xpoll_item *it)
{
	struct rb_node *rbp = sh->items.rb_node, *found = NULL;
	struct xpoll_item *cur;

	if (!file)
		return rb_first(&sh->items);
	while (rbp) {
		cur = rb_entry(rbp, struct xpoll_item, fnode);
		if (xpoll_key_less(cur->file, cur, file, it)) {
			rbp = rbp->rb_right;
		} else {
			found = rbp;
			rbp = rbp->rb_left;
		}
	}
	return found;
}

struct xpoll_victim {
	struct xpoll_instance *ep;
	struct file *file;
	int fd;
};

#define XPOLL_REAP_VICTIMS	16

/*
 * Checks up to @budget items of the current shard from the cursor, under
 * the shard lock, and returns how many it checked; the items of dead files
 * are left in @v (instance referenced), *nv of them.  Moves the cursor.
 */
static long xpoll_reap_scan(long budget, struct xpoll_victim *v, int *nv)
{
	struct xpoll_file_shard *sh = &xpoll_file_shards[xpoll_reap_pos.shard];
	struct xpoll_item *it;
	struct rb_node *rbp;
	long n = 0;

	spin_lock(&sh->lock);
	rbp = xpoll_shard_seek(sh, xpoll_reap_pos.file, xpoll_reap_pos.item);
	for (; rbp && n < budget && *nv < XPOLL_REAP_VICTIMS;
	     rbp = rb_next(rbp), n++) {
		it = rb_entry(rbp, struct xpoll_item, fnode);
		if (!xpoll_item_dead(it))
			continue;
		kref_get(&it->ep->ref);
		v[*nv].ep = it->ep;
		v[*nv].file = it->file;
		v[*nv].fd = it->fd;
		(*nv)++;
	}
	if (rbp) {
		it = rb_entry(rbp, struct xpoll_item, fnode);
		xpoll_reap_pos.file = it->file;
		xpoll_reap_pos.item = it;
	} else {
		xpoll_reap_pos.shard = (xpoll_reap_pos.shard + 1) %
				       XPOLL_FILE_SHARDS;
		xpoll_reap_pos.file = NULL;
		xpoll_reap_pos.item = NULL;
	}
	spin_unlock(&sh->lock);
	return n;
}

static void xpoll_reap_victim(struct xpoll_victim *v)
{
	struct xpoll_item *it;

	mutex_lock(&v->ep->mtx);
	/* Removed meanwhile, or another file at that address: re-check. */
	it = xpoll_find(v->ep, v->file, v->fd);
	if (it && xpoll_item_dead(it))
		xpoll_item_remove(v->ep, it);
	mutex_unlock(&v->ep->mtx);
	xpoll_instance_put(v->ep);
}

static void xpoll_reaper_fn(struct work_struct *work)
{
	struct xpoll_victim v[XPOLL_REAP_VICTIMS];
	unsigned int start = xpoll_reap_pos.shard;
	long budget, n = 0;
	int i, nv;

	budget = max_t(long, XPOLL_REAP_MIN,
		       xpoll_nr_targets() / XPOLL_REAP_SPLIT);
	while (n < budget) {
		nv = 0;
		n += xpoll_reap_scan(min_t(long, budget - n, XPOLL_REAP_BATCH),
				     v, &nv);
		for (i = 0; i < nv; i++)
			xpoll_reap_victim(&v[i]);
		/* One round of the shards at most per pass. */
		if (!xpoll_reap_pos.file && xpoll_reap_pos.shard == start)
			break;
		cond_resched();
	}

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
	return 0;
}

/* Called once no instance is left, so no item is left either. */
void xpoll_target_exit(void)
{
	cancel_delayed_work_sync(&xpoll_reaper);
	WARN_ON_ONCE(xpoll_nr_targets());
}
