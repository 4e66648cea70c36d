// SPDX-License-Identifier: GPL-2.0
/*
 * Target files: their lifetime under xpoll.
 *
 * fs/eventpoll.c unhooks a file's epoll items from __fput()
 * (eventpoll_release()).  A module cannot hook __fput(), so a watched file
 * must be kept alive by a reference, or the wake callback and the re-poll
 * would touch freed memory.  The rule:
 *
 * - Every item is in one of XPOLL_FILE_TREES global trees, the tree
 *   picked by hashing the file pointer, keyed by (file, item): the items
 *   that watch one file, in whatever instance, are neighbours there.
 *   There is no per-file object and no table to grow: a watch is one
 *   allocation, the item, and nothing else (this is what keeps a watch
 *   smaller than epoll's).  The trees are many (64k, 512 KB of roots) so
 *   that they stay shallow: at 1M watched files an ADD descends about six
 *   levels here, besides the instance's own tree (with 256 trees it was
 *   twelve, and ADD at 1M ran at 0.77 of epoll; tools/bench/README.md).
 * - xpoll holds exactly one reference on a watched file, whatever the
 *   number of its items: the item that finds no neighbour of the same file
 *   when it is inserted takes it (get_file()), the item that finds none
 *   when it is removed drops it (fput()).  Both happen under the tree's
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
 *   take it off the ready list instead (xpoll_item_dead()), and kick the
 *   reaper once they have dropped ep->mtx.  They do not remove it
 *   themselves: that would drop xpoll's last reference in the calling
 *   task, whose last fput() runs only when it returns to user space, and
 *   a wait that went on to sleep would keep a closed socket open (its peer
 *   seeing no EOF) until its next event.  The reaper's fput() runs from a
 *   worker, so the file is released at once.  (A callback may queue such
 *   an item again; the next scan drops it again.)
 * - The reaper, a delayed work that runs every XPOLL_REAP_MS while any
 *   file is watched (the ADD that makes the count of watched files 1
 *   starts it, and each pass re-arms it while the count is not 0), walks
 *   the trees from a cursor (a (tree, file, item) key, only compared,
 *   never dereferenced) and removes the items of dead files, so the last
 *   of them drops the file reference and the file is really released (a
 *   closed socket closes and its peer sees EOF) even if it never becomes
 *   ready again.  Each pass checks the items of max(XPOLL_REAP_MIN,
 *   files / XPOLL_REAP_SPLIT) files (counted as files, not items: one
 *   file watched by many instances costs a pass more items, not its
 *   round more passes), at most XPOLL_REAP_BATCH items at a time under a
 *   tree's lock, so every file is checked at least every
 *   XPOLL_REAP_SPLIT passes; it skips empty trees through
 *   xpoll_file_busy, a bit per tree, so a pass over few files does not
 *   visit 64k roots.  It scans without any instance's mutex: it takes one
 *   only to remove an item it found dead, after dropping the tree lock,
 *   and then looks the item up again by (file, fd) and re-checks it.
 * - The reaper never sleeps on an instance's mutex, it only trylocks it:
 *   one work serves every instance, and a mutex can be held for as long
 *   as its holder likes (a wait stalled on a user page fault, an ADD
 *   polling a FUSE file whose server never answers), which must not stop
 *   the release of other users' files.  A dead item of a busy instance
 *   stays in its tree, still dead, and a later round finds it again.
 *   (epoll has no such shared step: there, the task that closes a file
 *   waits for the mutex of each instance that watches it.)
 * - An instance can be the target of another instance; the outer one then
 *   holds a reference on the inner one's file.  Closing the inner
 *   instance's descriptors lets the reaper drop it, which releases it and
 *   its own targets.  Loops between instances are refused (ELOOP), so such
 *   references never form a cycle.  Residual: a file that is itself in
 *   flight in a UNIX socket watched by the same instance forms a cycle the
 *   UNIX garbage collector cannot see; it lives until the instance closes.
 *
 * Locking
 * - A tree's lock (spinlock; one lock serves BITS_PER_LONG neighbouring
 *   trees, 1024 locks on 64-bit, so that lockdep kernels do not carry 64k
 *   lock maps) protects the tree, the attach and detach of its files'
 *   items, and so the "first" and "last" decisions above; and the word of
 *   xpoll_file_busy that holds its trees' bits, which is therefore
 *   changed with non-atomic bit operations.  The reaper reads that bitmap
 *   without the locks, as a hint: a tree that becomes busy just after it
 *   looked is seen on the next round.  ctl calls on different files
 *   rarely share a lock.  Taken under ep->mtx (and possibly the topology
 *   lock); nothing is taken inside it.
 * - The reaper holds a reference on the instance of each item it means to
 *   remove, taken under its tree's lock while the item is still in the
 *   tree: an instance with items left has not finished ->release, so its
 *   count is not zero then.
 * - Under a tree's lock alone the reaper reads an item's ep, file and fd:
 *   they are set before the item enters its tree and never change.
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
#define XPOLL_FILE_TREE_BITS	16
#define XPOLL_FILE_TREES	BIT(XPOLL_FILE_TREE_BITS)
#define XPOLL_FILE_LOCKS	(XPOLL_FILE_TREES / BITS_PER_LONG)

/* Items by (file, item), xpoll_item.fnode; see the top comment. */
static struct rb_root *xpoll_file_trees;
static spinlock_t xpoll_file_locks[XPOLL_FILE_LOCKS];
/* A bit per non-empty tree; word i under xpoll_file_locks[i]. */
static unsigned long xpoll_file_busy[BITS_TO_LONGS(XPOLL_FILE_TREES)];
static atomic_long_t xpoll_nr_files;

/* Where the reaper resumes: a tree, and a key in it (NULL: its start). */
static struct {
	unsigned int tree;
	struct file *file;
	struct xpoll_item *item;
} xpoll_reap_pos;

static void xpoll_reaper_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(xpoll_reaper, xpoll_reaper_fn);

static unsigned int xpoll_tree_of(struct file *file)
{
	return hash_ptr(file, XPOLL_FILE_TREE_BITS);
}

static spinlock_t *xpoll_tree_lock(unsigned int t)
{
	return &xpoll_file_locks[t / BITS_PER_LONG];
}

/* Tree order: by file pointer, then by item address (values only). */
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
	unsigned int t = xpoll_tree_of(it->file);
	struct rb_root *root = &xpoll_file_trees[t];
	struct rb_node **p = &root->rb_node, *parent = NULL;
	bool first = true, kick = false;
	struct xpoll_item *cur;

	spin_lock(xpoll_tree_lock(t));
	if (!*p)
		__set_bit(t, xpoll_file_busy);
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
	rb_insert_color(&it->fnode, root);
	if (first) {
		get_file(it->file);
		/* The reaper re-arms itself while any file is watched. */
		kick = atomic_long_inc_return(&xpoll_nr_files) == 1;
	}
	spin_unlock(xpoll_tree_lock(t));
	if (kick)
		queue_delayed_work(system_unbound_wq, &xpoll_reaper,
				   msecs_to_jiffies(XPOLL_REAP_MS));
}

/* Unlinks @it; returns the file to fput() if that was its last item. */
struct file *xpoll_target_detach(struct xpoll_item *it)
{
	unsigned int t = xpoll_tree_of(it->file);
	struct rb_root *root = &xpoll_file_trees[t];
	bool last;

	spin_lock(xpoll_tree_lock(t));
	last = !xpoll_same_file(rb_prev(&it->fnode), it->file) &&
	       !xpoll_same_file(rb_next(&it->fnode), it->file);
	rb_erase(&it->fnode, root);
	if (RB_EMPTY_ROOT(root))
		__clear_bit(t, xpoll_file_busy);
	if (last)
		atomic_long_dec(&xpoll_nr_files);
	spin_unlock(xpoll_tree_lock(t));
	return last ? it->file : NULL;
}

/* First item at or after the key (@file, @it) in @root (NULL @file: first). */
static struct rb_node *xpoll_tree_seek(struct rb_root *root,
				       struct file *file,
				       struct xpoll_item *it)
{
	struct rb_node *rbp = root->rb_node, *found = NULL;
	struct xpoll_item *cur;

	if (!file)
		return rb_first(root);
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
 * Checks the items of up to @budget files of the current tree from the
 * cursor, at most XPOLL_REAP_BATCH items, under the tree's lock, and
 * returns how many files it started on (a file the cursor stopped in is
 * not counted again); the items of dead files are left in @v (instance
 * referenced), *nv of them.  Moves the cursor, to the start of the next
 * tree when this one is done.
 */
static long xpoll_reap_scan(long budget, struct xpoll_victim *v, int *nv)
{
	unsigned int t = xpoll_reap_pos.tree;
	struct file *prev = xpoll_reap_pos.file;
	struct xpoll_item *it;
	struct rb_node *rbp;
	long n = 0;
	int items;

	spin_lock(xpoll_tree_lock(t));
	rbp = xpoll_tree_seek(&xpoll_file_trees[t], xpoll_reap_pos.file,
			      xpoll_reap_pos.item);
	for (items = 0; rbp && items < XPOLL_REAP_BATCH &&
	     *nv < XPOLL_REAP_VICTIMS; rbp = rb_next(rbp), items++) {
		it = rb_entry(rbp, struct xpoll_item, fnode);
		if (it->file != prev) {
			if (n == budget)
				break;
			n++;
			prev = it->file;
		}
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
		xpoll_reap_pos.tree = (t + 1) % XPOLL_FILE_TREES;
		xpoll_reap_pos.file = NULL;
		xpoll_reap_pos.item = NULL;
	}
	spin_unlock(xpoll_tree_lock(t));
	return n;
}

/*
 * At the start of a tree, moves the cursor to the next non-empty one, or
 * to tree 0 when none is left after it.  Returns how many trees it moved
 * past.
 */
static unsigned int xpoll_reap_skip_empty(void)
{
	unsigned int from = xpoll_reap_pos.tree, t;

	if (xpoll_reap_pos.file)
		return 0;
	t = find_next_bit(xpoll_file_busy, XPOLL_FILE_TREES, from);
	xpoll_reap_pos.tree = t % XPOLL_FILE_TREES;
	return t - from;
}

static void xpoll_reap_victim(struct xpoll_victim *v)
{
	struct xpoll_item *it;

	/* Never wait for an instance's mutex: see the top comment. */
	if (mutex_trylock(&v->ep->mtx)) {
		/* Removed meanwhile, or another file there: re-check. */
		it = xpoll_find(v->ep, v->file, v->fd);
		if (it && xpoll_item_dead(it))
			xpoll_item_remove(v->ep, it);
		mutex_unlock(&v->ep->mtx);
	}
	xpoll_instance_put(v->ep);
}

static void xpoll_reaper_fn(struct work_struct *work)
{
	struct xpoll_victim v[XPOLL_REAP_VICTIMS];
	long budget, n = 0, trees = 0;
	unsigned int moved;
	int i, nv;

	budget = max_t(long, XPOLL_REAP_MIN,
		       xpoll_nr_targets() / XPOLL_REAP_SPLIT);
	/* One round of the trees at most per pass: @trees counts them. */
	while (n < budget && trees < XPOLL_FILE_TREES) {
		moved = xpoll_reap_skip_empty();
		trees += moved;
		/* Ran off the end onto tree 0: look at it afresh. */
		if (moved && !xpoll_reap_pos.tree)
			continue;
		if (trees >= XPOLL_FILE_TREES)
			break;
		nv = 0;
		n += xpoll_reap_scan(budget - n, v, &nv);
		if (!xpoll_reap_pos.file)
			trees++;
		for (i = 0; i < nv; i++)
			xpoll_reap_victim(&v[i]);
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

	/* All zeroes is RB_ROOT. */
	xpoll_file_trees = kvcalloc(XPOLL_FILE_TREES, sizeof(struct rb_root),
				    GFP_KERNEL);
	if (!xpoll_file_trees)
		return -ENOMEM;
	for (i = 0; i < XPOLL_FILE_LOCKS; i++)
		spin_lock_init(&xpoll_file_locks[i]);
	return 0;
}

/* Called once no instance is left, so no item is left either. */
void xpoll_target_exit(void)
{
	cancel_delayed_work_sync(&xpoll_reaper);
	WARN_ON_ONCE(xpoll_nr_targets());
	kvfree(xpoll_file_trees);
}
