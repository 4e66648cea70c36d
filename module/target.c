// SPDX-License-Identifier: GPL-2.0
/*
 * Target files: what kind of file a target is (xpoll_kind_of()), how long
 * an item may use its file, and how xpoll learns that the file is gone.
 *
 * fs/eventpoll.c unhooks a file's epoll items from __fput()
 * (eventpoll_release()).  A module cannot add a call there, but __fput()
 * already calls out before anything is torn down: fsnotify_close(file) is
 * its first step, before eventpoll_release() and ->release, in process
 * context (task_work, or the delayed-fput worker), with the file and its
 * wait queues intact.  xpoll listens there:
 *
 * - xpoll_fsn_group holds one fsnotify mark per superblock (sockfs,
 *   pipefs, anon_inodefs, a disk filesystem ...) on which it watches any
 *   file, for FS_CLOSE_WRITE | FS_CLOSE_NOWRITE only.  The mark is
 *   counted by the items on files of that superblock: the first item
 *   adds it, the last leaves it idle, and a collector destroys it after
 *   XPOLL_SBMARK_IDLE_MS if it is still idle (so that a program that
 *   watches one socket at a time does not add and destroy a mark for each
 *   one).  A watch costs no memory of its own here, and a superblock with
 *   nothing watched stops paying at close a second later.
 *   (A mark per inode was the other choice: a mark and a connector per
 *   watched socket, 100 bytes and more, would make a watch dearer than
 *   epoll's, and every first watch of an inode would take the group's
 *   one mark_mutex.  The price of a superblock mark: while any socket is
 *   watched, every socket close on the machine, anyone's, makes one
 *   lookup in the file trees below, under one of their spinlocks.)
 * - The close handler (xpoll_target_close()) runs inside fsnotify's SRCU
 *   read section (fsnotify_mark_srcu): while it runs, fsnotify frees no
 *   mark, and anyone's close of an inotify or fanotify descriptor waits
 *   (fsnotify_destroy_group()).  So it never sleeps but in cond_resched()
 *   and takes no instance's mutex (eventpoll_release_file() waits for
 *   each one): for each item of the closing file it takes the item out
 *   of the file's tree, marks it closed, unhooks its wait entries (the
 *   file's wait queues die in ->release, right after), drops its nesting
 *   edge, counts it off our superblock mark and hands it to its
 *   instance's closed list (ctl.c), whose reap work, or whoever takes
 *   the instance's mutex first, frees it and gives the watch back.  It
 *   takes no other lock than the file's tree lock and, inside it, the
 *   locks of those steps (all spinlocks), and costs O(items of that
 *   file): 1.1 us an item under TCG.
 * - So items hold no reference on their file: item->file is valid while
 *   the item is in its file's tree, because the file cannot be freed
 *   before its close event, and the close event takes the item out.  A
 *   closed item (xpoll_item_closed()) never touches its file again; code
 *   that polls an item's file under ep->mtx takes a reference first, and
 *   gets none for a closed one (xpoll_item_fget(), as epoll's epi_fget()).
 *   That relies on the file being freed by call_rcu() (file_free()) only
 *   after its close event returned: a file seen not closed inside an RCU
 *   read section (a sched one: a grace period waits for preempt-disabled
 *   regions too) can still be tried with get_file_rcu().
 *   A dup()ed or inherited descriptor, an SCM_RIGHTS message in flight
 *   or an mmap keep the file, and its items, exactly as in epoll, and the
 *   UNIX garbage collector sees every reference there is.
 *
 * Files whose close fsnotify does not report: FMODE_NONOTIFY (every pty
 * master, from /dev/ptmx; the event descriptors fanotify hands its
 * listener, CAP_SYS_ADMIN only; overlayfs' internal files, which no
 * descriptor reaches; not fanotify's group descriptor: anon_inode_getfile()
 * drops the flag in 6.1) and FMODE_PATH (not pollable, so never watched).  For those, "pinned"
 * files, xpoll holds one reference per file, taken by its first item and
 * dropped by its last (both decided under the file's tree lock), a
 * struct xpoll_pin on xpoll_pins, and a reaper that runs every
 * XPOLL_PIN_MS (10 ms: a closed pty's other end sees the hangup that
 * late) while any pin exists.  A pinned file whose count is 1 has no
 * descriptor left; its items are never reported again
 * (xpoll_item_fget()), and the reaper closes them as the close handler
 * does, never taking an instance's mutex.  A pass looks at every pin
 * once and closes at most XPOLL_PIN_ITEMS items.  Residual: a pinned file in
 * flight in a UNIX socket that the same instance watches lives until the
 * instance closes (the collector does not see our reference).
 *
 * Every item is also in one of XPOLL_FILE_TREES global trees, picked by
 * hashing the file pointer and keyed by (file, item), so that the items
 * that watch one file, in whatever instance, are neighbours: that is how
 * the close handler finds them.  The trees are many (64k, 512 KB of roots)
 * so that they stay shallow at 1M watched files.
 *
 * Locking and lifetimes
 * - A tree's lock (spinlock; one serves BITS_PER_LONG neighbouring trees,
 *   1024 locks on 64-bit, so that lockdep kernels do not carry 64k lock
 *   maps) protects its tree, and so the "first item of a file" and "last
 *   item of a file" decisions of pinned files.  An item leaves its tree,
 *   and its wait entries are unhooked, in one hold of the lock, by
 *   whichever comes first: its removal under ep->mtx
 *   (xpoll_target_detach()) or its file's close; the other sees it gone
 *   or closed.  Taken under ep->mtx (and the topology lock, in a full
 *   ADD), and by the close handler and the reaper with no other lock.
 *   Taken inside it: the target's wait-queue locks (unhooking),
 *   xpoll_nest_lock, ep->lock, the workqueues' (queueing a reap work or
 *   the mark collector), xpoll_pins_lock, and rcu_read_lock() (the path
 *   check and xpoll_sbmark_put()).  Held for one
 *   tree descent, O(log items), plus the unhooking of one item, or by
 *   the close handler, the reaper and the path check for one batch of
 *   XPOLL_WATCHER_BATCH items, each bounded (ctl.c, xpoll_up_paths()).
 * - The close handler and the reaper read an item's ep, file and fd under
 *   the tree's lock (they are set before the item enters its tree and
 *   never change), and take a reference on the instance there, while the
 *   item is still in the tree (an instance with items left has not
 *   finished ->release, so its count is not zero then); the reap work
 *   drops it.
 * - xpoll_sbmark_mutex (global) guards the hash of superblock marks
 *   against changes, every count's 0 -> 1, and the collector's test of
 *   0; lookups run under RCU, and a mark counted above zero is in the
 *   hash.  Counts go down without it (xpoll_sbmark_put()), under the
 *   tree lock of the items leaving, while their file, and so its
 *   superblock, is alive.  Taken under ep->mtx, by the collector, and by
 *   the unmount of a superblock whose mark is idle
 *   (xpoll_freeing_mark()), never around an instance's mutex; fsnotify's
 *   group mark_mutex is taken inside it.  Held for one
 *   fsnotify_add_mark() when a superblock gains its first watched item,
 *   and by the collector for O(marks): one per filesystem with a watched
 *   file in the last second.
 * - xpoll_pins_lock (global spinlock): xpoll_pins and xpoll_nr_pins.
 *   Held for O(pins) by the reaper's pass (pins: watched pty masters and
 *   fanotify event descriptors, each held by its user, so at most
 *   RLIMIT_NOFILE per process), O(1) otherwise.
 * - A mark holds two references: fsnotify's while it is attached, and the
 *   hash's, dropped by whoever takes it out of the hash (the collector,
 *   or xpoll_freeing_mark() on unmount; m->dying says it is out).  It is
 *   freed by fsnotify (->free_mark) after an SRCU grace period of its
 *   own, then after an RCU one for our lookups (kfree_rcu()).  Module
 *   exit destroys the idle marks (all of them by then) and waits for that
 *   with fsnotify_wait_marks_destroyed(); no close handler runs then, as
 *   none can run without a mark.
 */
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fsnotify_backend.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/magic.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "xpoll.h"

#if !IS_ENABLED(CONFIG_FSNOTIFY)
#error "xpoll learns of a watched file's last close from fsnotify: CONFIG_FSNOTIFY"
#endif

#define XPOLL_FILE_TREE_BITS	16
#define XPOLL_FILE_TREES	BIT(XPOLL_FILE_TREE_BITS)
#define XPOLL_FILE_LOCKS	(XPOLL_FILE_TREES / BITS_PER_LONG)
#define XPOLL_CLOSE_EVENTS	(FS_CLOSE_WRITE | FS_CLOSE_NOWRITE)
#define XPOLL_PIN_MS		10
#define XPOLL_SBMARK_IDLE_MS	1000
#define XPOLL_PIN_FILES		16
#define XPOLL_PIN_ITEMS		256

/* Items by (file, item), xpoll_item.fnode; see the top comment. */
static struct rb_root *xpoll_file_trees;
static spinlock_t xpoll_file_locks[XPOLL_FILE_LOCKS];

struct xpoll_sbmark {
	struct fsnotify_mark mark;
	struct super_block *sb;
	refcount_t items;		/* items on files of sb; 0: idle */
	bool dying;			/* out of the hash, being destroyed */
	struct hlist_node node;		/* in xpoll_sbmarks */
	struct rcu_head rcu;
};

static struct fsnotify_group *xpoll_fsn_group;
static DEFINE_HASHTABLE(xpoll_sbmarks, 6);
static DEFINE_MUTEX(xpoll_sbmark_mutex);
static void xpoll_sbmark_gc_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(xpoll_sbmark_gc, xpoll_sbmark_gc_fn);

/* A pinned file (see the top comment) and the reference xpoll holds. */
struct xpoll_pin {
	struct list_head link;		/* in xpoll_pins */
	struct file *file;
};

static LIST_HEAD(xpoll_pins);
static unsigned long xpoll_nr_pins;
static DEFINE_SPINLOCK(xpoll_pins_lock);

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

/* The superblock fsnotify reports @file's close on (fsnotify_file()). */
static struct super_block *xpoll_sb_of(struct file *file)
{
	return file->f_path.dentry->d_sb;
}

static struct xpoll_sbmark *xpoll_sbmark_find(struct super_block *sb)
{
	struct xpoll_sbmark *m;

	hash_for_each_possible_rcu(xpoll_sbmarks, m, node, (unsigned long)sb,
				   lockdep_is_held(&xpoll_sbmark_mutex))
		if (m->sb == sb)
			return m;
	return NULL;
}

/* Counts one more item on @sb, adding our mark there if it has none. */
static int xpoll_sbmark_get(struct super_block *sb)
{
	struct xpoll_sbmark *m;
	int err = 0;

	rcu_read_lock();
	m = xpoll_sbmark_find(sb);
	if (m && refcount_inc_not_zero(&m->items)) {
		rcu_read_unlock();
		return 0;
	}
	rcu_read_unlock();

	mutex_lock(&xpoll_sbmark_mutex);
	m = xpoll_sbmark_find(sb);
	if (m) {
		/* Idle or not: 0 -> 1 only happens here, under the mutex. */
		if (!refcount_inc_not_zero(&m->items))
			refcount_set(&m->items, 1);
		goto out;
	}
	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m) {
		err = -ENOMEM;
		goto out;
	}
	fsnotify_init_mark(&m->mark, xpoll_fsn_group);
	m->mark.mask = XPOLL_CLOSE_EVENTS;
	m->sb = sb;
	refcount_set(&m->items, 1);
	err = fsnotify_add_mark(&m->mark, &sb->s_fsnotify_marks,
				FSNOTIFY_OBJ_TYPE_SB, 0, NULL);
	if (err) {
		/* The last reference: fsnotify frees it (xpoll_free_mark). */
		fsnotify_put_mark(&m->mark);
		goto out;
	}
	hash_add_rcu(xpoll_sbmarks, &m->node, (unsigned long)sb);
out:
	mutex_unlock(&xpoll_sbmark_mutex);
	return err;
}

/*
 * Counts @n items less on @sb, under the tree lock of those items, while
 * their file is alive (so @sb and our mark are too).  Never sleeps: the
 * last one leaves the mark idle, and the collector takes it away
 * XPOLL_SBMARK_IDLE_MS later if it is still idle, so that a program that
 * watches one socket at a time does not add and destroy a mark (and
 * queue fsnotify's SRCU work) for each.  (Only 0 -> 1, in
 * xpoll_sbmark_get(), and the collector's test of 0 need the mutex.)
 */
static void xpoll_sbmark_put(struct super_block *sb, int n)
{
	struct xpoll_sbmark *m;

	rcu_read_lock();
	m = xpoll_sbmark_find(sb);
	/* Our own count keeps it in the hash, so it is still there. */
	if (!WARN_ON_ONCE(!m) && refcount_sub_and_test(n, &m->items))
		queue_delayed_work(system_unbound_wq, &xpoll_sbmark_gc,
				   msecs_to_jiffies(XPOLL_SBMARK_IDLE_MS));
	rcu_read_unlock();
}

/* Takes @m out of the hash; under xpoll_sbmark_mutex, @m idle. */
static void xpoll_sbmark_unhash(struct xpoll_sbmark *m)
{
	lockdep_assert_held(&xpoll_sbmark_mutex);
	m->dying = true;
	hash_del_rcu(&m->node);
}

/* Destroys every idle mark (every mark, once no instance is left). */
static void xpoll_sbmark_gc_fn(struct work_struct *work)
{
	struct xpoll_sbmark *m;
	struct hlist_node *tmp;
	int bkt;

	mutex_lock(&xpoll_sbmark_mutex);
	hash_for_each_safe(xpoll_sbmarks, bkt, tmp, m, node) {
		if (refcount_read(&m->items))
			continue;
		xpoll_sbmark_unhash(m);
		/* Under the mutex: a new mark for m->sb cannot meet this one. */
		fsnotify_destroy_mark(&m->mark, xpoll_fsn_group);
		fsnotify_put_mark(&m->mark);
	}
	mutex_unlock(&xpoll_sbmark_mutex);
}

/*
 * fsnotify detaches a mark: ours (the collector, which unhashed it
 * first), or the unmount of an idle mark's superblock (a superblock with
 * watched items cannot go: their open files pin it).  In the second case
 * the hash must forget it before fsnotify frees it.
 */
static void xpoll_freeing_mark(struct fsnotify_mark *mark,
			       struct fsnotify_group *group)
{
	struct xpoll_sbmark *m = container_of(mark, struct xpoll_sbmark, mark);

	if (READ_ONCE(m->dying))
		return;
	mutex_lock(&xpoll_sbmark_mutex);
	if (!m->dying) {
		WARN_ON_ONCE(refcount_read(&m->items));
		xpoll_sbmark_unhash(m);
		/* The reference the hash held: fsnotify's is still there. */
		fsnotify_put_mark(&m->mark);
	}
	mutex_unlock(&xpoll_sbmark_mutex);
}

static void xpoll_free_mark(struct fsnotify_mark *mark)
{
	kfree_rcu(container_of(mark, struct xpoll_sbmark, mark), rcu);
}

/*
 * epoll's file_operations are not exported; an epoll file is an anonymous
 * inode file named "[eventpoll]".  The first one seen tells us epoll's
 * f_op, and from then on a pointer comparison answers.  Until then, the
 * last f_op found not to be epoll's answers for files of the same kind (an
 * f_op is epoll's for every file or for none, and epoll's is built in, so
 * neither pointer can go stale), so a run of ADDs of eventfds or sockets
 * does not read each one's superblock and name.
 */
static const struct file_operations *xpoll_epoll_fops;
static const struct file_operations *xpoll_other_fops;

bool xpoll_file_is_epoll(struct file *file)
{
	const struct file_operations *fops = READ_ONCE(xpoll_epoll_fops);
	const struct qstr *name;

	if (fops)
		return file->f_op == fops;
	if (file->f_op == READ_ONCE(xpoll_other_fops))
		return false;
	name = &file->f_path.dentry->d_name;
	if (file_inode(file)->i_sb->s_magic != ANON_INODE_FS_MAGIC ||
	    name->len != sizeof("[eventpoll]") - 1 ||
	    memcmp(name->name, "[eventpoll]", name->len)) {
		WRITE_ONCE(xpoll_other_fops, file->f_op);
		return false;
	}
	WRITE_ONCE(xpoll_epoll_fops, file->f_op);
	return true;
}

enum xpoll_kind xpoll_kind_of(struct file *file)
{
	if (file->f_op == &xpoll_fops)
		return XPOLL_KIND_XPOLL;
	if (xpoll_file_is_epoll(file))
		return XPOLL_KIND_EPOLL;
	return XPOLL_KIND_FILE;
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

/*
 * Enters @it in its file's tree, and makes sure its file's close will be
 * seen: our mark on its superblock, or for a pinned file a reference and
 * a pin.  May sleep; -ENOMEM with nothing changed.
 */
int xpoll_target_attach(struct xpoll_item *it)
{
	struct file *file = it->file;
	unsigned int t = xpoll_tree_of(file);
	struct rb_root *root = &xpoll_file_trees[t];
	struct rb_node **p = &root->rb_node, *parent = NULL;
	struct xpoll_pin *pin = NULL;
	bool first = true, kick = false;
	struct xpoll_item *cur;

	if (xpoll_file_pinned(file)) {
		pin = kmalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
		if (!pin)
			return -ENOMEM;
		pin->file = file;
	} else if (xpoll_sbmark_get(xpoll_sb_of(file))) {
		return -ENOMEM;
	}

	spin_lock(xpoll_tree_lock(t));
	while (*p) {
		parent = *p;
		cur = rb_entry(parent, struct xpoll_item, fnode);
		if (cur->file == file)
			first = false;
		if (xpoll_key_less(file, it, cur->file, cur))
			p = &parent->rb_left;
		else
			p = &parent->rb_right;
	}
	/* The in-order neighbours of a new leaf are on its search path. */
	rb_link_node(&it->fnode, parent, p);
	rb_insert_color(&it->fnode, root);
	if (first && pin) {
		get_file(file);
		spin_lock(&xpoll_pins_lock);
		list_add_tail(&pin->link, &xpoll_pins);
		kick = !xpoll_nr_pins++;
		spin_unlock(&xpoll_pins_lock);
		pin = NULL;
	}
	spin_unlock(xpoll_tree_lock(t));
	kfree(pin);
	if (kick)
		queue_delayed_work(system_unbound_wq, &xpoll_reaper,
				   msecs_to_jiffies(XPOLL_PIN_MS));
	return 0;
}

/* Takes @file's pin off the list; the caller frees it. */
static struct xpoll_pin *xpoll_unpin(struct file *file)
{
	struct xpoll_pin *pin;

	spin_lock(&xpoll_pins_lock);
	list_for_each_entry(pin, &xpoll_pins, link) {
		if (pin->file == file) {
			list_del(&pin->link);
			xpoll_nr_pins--;
			spin_unlock(&xpoll_pins_lock);
			return pin;
		}
	}
	spin_unlock(&xpoll_pins_lock);
	WARN_ON_ONCE(1);
	return NULL;
}

/* Takes @it out of tree @t and marks it closed (xpoll_item_closed()). */
static void xpoll_fnode_erase(struct xpoll_item *it, unsigned int t)
{
	rb_erase(&it->fnode, &xpoll_file_trees[t]);
	/* RB_CLEAR_NODE(), for the unlocked reader xpoll_item_closed(). */
	WRITE_ONCE(it->fnode.__rb_parent_color, (unsigned long)&it->fnode);
}

/*
 * Takes @it out of its file's tree and unhooks it (xpoll_item_unhook()),
 * under ep->mtx.  Returns false, having done nothing, if its file's close
 * got there first: the item is then on its instance's closed list.
 */
bool xpoll_target_detach(struct xpoll_item *it, bool *nested)
{
	struct file *file = it->file;
	unsigned int t = xpoll_tree_of(file);
	bool pinned, last = false;
	struct xpoll_pin *pin = NULL;

	spin_lock(xpoll_tree_lock(t));
	if (xpoll_item_closed(it)) {
		spin_unlock(xpoll_tree_lock(t));
		return false;
	}
	/* In its tree, so not closed yet: @file is alive until we unlock. */
	pinned = xpoll_file_pinned(file);
	/* Only a pinned file's last item has more to do (its reference). */
	if (pinned)
		last = !xpoll_same_file(rb_prev(&it->fnode), file) &&
		       !xpoll_same_file(rb_next(&it->fnode), file);
	xpoll_fnode_erase(it, t);
	*nested = xpoll_item_unhook(it);
	if (!pinned)
		xpoll_sbmark_put(xpoll_sb_of(file), 1);
	else if (last)
		pin = xpoll_unpin(file);
	spin_unlock(xpoll_tree_lock(t));
	/* Past the unlock, @file may be gone: only a pin keeps it. */
	if (last) {
		kfree(pin);
		/* Never the final __fput() here: that is deferred. */
		fput(file);
	}
	return true;
}

/*
 * A reference on @it's file for the caller to poll it, under ep->mtx, or
 * NULL when the file is closing or closed, or is a pinned file no
 * descriptor holds any more (the reaper is told).  A closed item's file
 * may be freed an RCU grace period after its close handler returned; the
 * handler marks the item closed before that, so a file seen not closed
 * under rcu_read_lock() can still be tried.  epoll takes the same
 * reference to poll (epi_fget()).
 */
struct file *xpoll_item_fget(const struct xpoll_item *it)
{
	struct file *file = it->file;

	/*
	 * A sched-RCU section: an RCU grace period (the file's call_rcu())
	 * waits for it too, and it costs no call where rcu_read_lock() is
	 * out of line (PREEMPT_RCU, Debian's): this runs for every event.
	 */
	rcu_read_lock_sched();
	if (xpoll_item_closed(it) || !get_file_rcu(file))
		file = NULL;
	rcu_read_unlock_sched();
	/* Pinned, and only our pin and this reference left. */
	if (file && unlikely(xpoll_file_pinned(file)) &&
	    file_count(file) == 2) {
		fput(file);
		xpoll_reaper_kick();
		return NULL;
	}
	return file;
}

/* First item at or after the key (@file, @it) in @root. */
static struct rb_node *xpoll_tree_seek(struct rb_root *root,
				       struct file *file,
				       struct xpoll_item *it)
{
	struct rb_node *rbp = root->rb_node, *found = NULL;
	struct xpoll_item *cur;

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

#define XPOLL_WATCHER_BATCH	64

/*
 * Calls @fn(@arg, ep) for the instance of every item of @file, under the
 * file's tree lock, at most XPOLL_WATCHER_BATCH items per hold (items may
 * come and go between two holds; none is seen twice), until @fn returns
 * false; returns false then.  @fn must not sleep; the instance it is
 * given is valid while it runs.
 */
bool xpoll_target_visit_watchers(struct file *file, xpoll_watcher_fn_t fn,
				 void *arg)
{
	unsigned int t = xpoll_tree_of(file);
	struct xpoll_item *it, *last = NULL;
	struct rb_node *rbp;
	bool ok = true;
	int n;

	do {
		spin_lock(xpoll_tree_lock(t));
		rbp = xpoll_tree_seek(&xpoll_file_trees[t], file, last);
		/* The seek finds @last itself if it is still there. */
		if (last && rbp && rb_entry(rbp, struct xpoll_item, fnode) == last)
			rbp = rb_next(rbp);
		for (n = 0; ok && n < XPOLL_WATCHER_BATCH &&
		     xpoll_same_file(rbp, file); n++, rbp = rb_next(rbp)) {
			it = rb_entry(rbp, struct xpoll_item, fnode);
			ok = fn(arg, it->ep);
			last = it;
		}
		spin_unlock(xpoll_tree_lock(t));
		cond_resched();
	} while (ok && n == XPOLL_WATCHER_BATCH);
	return ok;
}

/*
 * The last close of @file: takes its items out of its tree and hands each
 * to its instance (xpoll_item_orphan()), at most XPOLL_WATCHER_BATCH per
 * hold of the tree's lock and at most *@budget in all (NULL: no limit).
 * Never sleeps but in cond_resched(): no instance's mutex is taken.
 * Returns true when no item of @file is left.
 */
static bool xpoll_target_close(struct file *file, int *budget)
{
	unsigned int t = xpoll_tree_of(file);
	bool pinned = xpoll_file_pinned(file), done = false;
	struct xpoll_pin *pin = NULL;
	struct xpoll_item *it;
	struct rb_node *rbp;
	int n;

	while (!done && (!budget || *budget > 0)) {
		spin_lock(xpoll_tree_lock(t));
		rbp = xpoll_tree_seek(&xpoll_file_trees[t], file, NULL);
		for (n = 0; n < XPOLL_WATCHER_BATCH && (!budget || *budget > 0) &&
		     xpoll_same_file(rbp, file); n++) {
			it = rb_entry(rbp, struct xpoll_item, fnode);
			rbp = rb_next(rbp);
			xpoll_fnode_erase(it, t);
			xpoll_item_orphan(it, xpoll_item_unhook(it));
			if (budget)
				(*budget)--;
		}
		done = !xpoll_same_file(rbp, file);
		/* We took the last item of a pinned file: its reference too. */
		if (n && !pinned)
			xpoll_sbmark_put(xpoll_sb_of(file), n);
		else if (done && n)
			pin = xpoll_unpin(file);
		spin_unlock(xpoll_tree_lock(t));
		cond_resched();
	}
	if (!pin)
		return done;
	kfree(pin);
	/* The caller holds another reference. */
	fput(file);
	return done;
}

/*
 * fsnotify's close event, from __fput() (see the top comment).  Close
 * events come only from fsnotify_close(), whose data is &file->f_path.
 */
static int xpoll_fsn_handle_event(struct fsnotify_group *group, u32 mask,
				  const void *data, int data_type,
				  struct inode *dir, const struct qstr *name,
				  u32 cookie, struct fsnotify_iter_info *iter)
{
	const struct path *path = data;

	if ((mask & XPOLL_CLOSE_EVENTS) && data_type == FSNOTIFY_EVENT_PATH)
		xpoll_target_close(container_of(path, struct file, f_path),
				   NULL);
	return 0;
}

static const struct fsnotify_ops xpoll_fsn_ops = {
	.handle_event	= xpoll_fsn_handle_event,
	.freeing_mark	= xpoll_freeing_mark,
	.free_mark	= xpoll_free_mark,
};

/*
 * One pass of the reaper of pinned files: looks at every pin once, from
 * where the last pass stopped (a pin looked at goes to the tail), and
 * removes the items of up to XPOLL_PIN_FILES dead files, at most
 * XPOLL_PIN_ITEMS items in all.
 */
static void xpoll_reaper_fn(struct work_struct *work)
{
	struct file *dead[XPOLL_PIN_FILES];
	int budget = XPOLL_PIN_ITEMS;
	struct xpoll_pin *pin;
	unsigned long left;
	int i, n = 0;

	spin_lock(&xpoll_pins_lock);
	for (left = xpoll_nr_pins; left && n < XPOLL_PIN_FILES; left--) {
		pin = list_first_entry(&xpoll_pins, struct xpoll_pin, link);
		list_move_tail(&pin->link, &xpoll_pins);
		/* Only our reference left: no descriptor can raise it again. */
		if (file_count(pin->file) == 1) {
			get_file(pin->file);
			dead[n++] = pin->file;
		}
	}
	spin_unlock(&xpoll_pins_lock);

	for (i = 0; i < n; i++) {
		if (budget > 0)
			xpoll_target_close(dead[i], &budget);
		/* From a worker, the last fput() goes to the delayed fput. */
		fput(dead[i]);
	}

	spin_lock(&xpoll_pins_lock);
	if (xpoll_nr_pins)
		queue_delayed_work(system_unbound_wq, &xpoll_reaper,
				   msecs_to_jiffies(XPOLL_PIN_MS));
	spin_unlock(&xpoll_pins_lock);
}

/* Asks for a reaper pass now (an item of a closed pinned file was seen). */
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

/* Distinct files watched by all instances (KUnit, module exit). */
long xpoll_nr_targets(void)
{
	struct rb_node *rbp;
	struct file *prev;
	long n = 0;
	unsigned int t;

	/* Counted, not kept: a global counter would cost every ADD. */
	for (t = 0; t < XPOLL_FILE_TREES; t++) {
		spin_lock(xpoll_tree_lock(t));
		prev = NULL;
		for (rbp = rb_first(&xpoll_file_trees[t]); rbp;
		     rbp = rb_next(rbp)) {
			if (rb_entry(rbp, struct xpoll_item, fnode)->file != prev)
				n++;
			prev = rb_entry(rbp, struct xpoll_item, fnode)->file;
		}
		spin_unlock(xpoll_tree_lock(t));
	}
	return n;
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
	xpoll_fsn_group = fsnotify_alloc_group(&xpoll_fsn_ops, 0);
	if (IS_ERR(xpoll_fsn_group)) {
		kvfree(xpoll_file_trees);
		return PTR_ERR(xpoll_fsn_group);
	}
	return 0;
}

/* Called once no instance is left, so no item, pin or mark either. */
void xpoll_target_exit(void)
{
	cancel_delayed_work_sync(&xpoll_reaper);
	WARN_ON_ONCE(xpoll_nr_targets());
	/* Every mark is idle now: destroy them, then wait for their frees. */
	cancel_delayed_work_sync(&xpoll_sbmark_gc);
	xpoll_sbmark_gc_fn(NULL);
	/*
	 * Each mark holds a group reference until fsnotify has called our
	 * ->free_mark; an unmount that took a mark off before us may still
	 * hold it for a moment.  Ours is the last one left once all are gone.
	 */
	fsnotify_wait_marks_destroyed();
	while (refcount_read(&xpoll_fsn_group->refcnt) > 1) {
		msleep(20);
		fsnotify_wait_marks_destroyed();
	}
	fsnotify_put_group(xpoll_fsn_group);
	kvfree(xpoll_file_trees);
}
