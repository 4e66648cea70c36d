/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpoll internal header: the objects of the eventpoll core and the rules
 * that tie them together.  Each rule is stated here once; the .c files only
 * refer to it.
 *
 * Objects
 * -------
 * struct xpoll_instance  one per open() of /dev/xpoll (file->private_data).
 * struct xpoll_item      one watched (struct file *, fd) pair of an instance,
 *                        in the instance's rbtree keyed by (file, fd) and in
 *                        its file's tree of watched files (target.c).  It
 *                        holds its first wait-queue entry itself, so a watch
 *                        of an ordinary file is this one allocation.  An item
 *                        that watches another instance is the first member
 *                        of a struct xpoll_nest (ctl.c), its nesting edge.
 * struct xpoll_pwq       one entry on one wait queue that the target's
 *                        ->poll() registered: the item's own, then more,
 *                        allocated, for targets that register several.
 * struct xpoll_uevent    a user event (uevent.c): an item with no file
 *                        (item->file NULL), in the instance's hash table
 *                        ep->uevents by key instead of either tree.  It
 *                        has no wait entry; its trigger queues it as the
 *                        wake callback would.
 * struct xpoll_ring      the ready ring of a ring instance (ring.c): the
 *                        memory shared with userspace, where its items'
 *                        events go instead of the ready list.
 * struct xpoll_user      per-uid watch counter for the max_user_watches limit.
 *
 * Locks, outermost first
 * ----------------------
 * 1. xpoll_topo_lock (mutex, ctl.c): serialises the ADDs that can add
 *    wakeup paths ("full" ADDs: an instance as target, or an instance
 *    that is itself watched), and so the linking of nesting edges.  Taken
 *    before ep->mtx, by those ADDs only, which then only trylock
 *    instances' mutexes (the parent's, and one at a time those below the
 *    new child): it is never held while sleeping on one (ctl.c).
 * 2. ep->mtx (mutex): the rbtree, every item field except the list links
 *    below (ep, file and fd never change after ADD: see target.c), the pwq
 *    lists of items not closed, and the right to scan the ready list
 *    (transfer, instance poll).  Taken with mutex_lock() only at the top
 *    of a system call, the release path and fdinfo, never while another
 *    xpoll lock is held; full ADDs and the instance's reap work
 *    (ep->reap_work) only trylock it (ctl.c says why).  Never taken by
 *    the close of a watched file nor by the reaper of pinned files
 *    (target.c).  Inside
 *    poll chains (f_op->poll of an instance, the re-poll of a nested
 *    instance) it is only ever mutex_trylock()ed: a chain can cross
 *    foreign files (an epoll instance) whose contents we cannot see, so a
 *    blocking acquisition there could close a cycle.  When the trylock
 *    fails the poll answers from the ready list alone (see "Nesting").
 * 3. xpoll_sbmark_mutex (target.c), then fsnotify's group mark_mutex,
 *    taken under ep->mtx (the first watched item of a superblock adds
 *    xpoll's fsnotify mark there), by the idle-mark collector and by an
 *    unmount, with no xpoll lock held.
 * 4. A file tree's lock (spinlock, target.c; the tree is picked by
 *    hashing the file pointer, and a lock serves BITS_PER_LONG trees): the
 *    attach and detach of one file's items, the unhooking of their wait
 *    entries, and for a pinned file the reference they share.  Taken
 *    under ep->mtx (and xpoll_topo_lock in a full ADD), and by the close
 *    handler and the reaper with no other lock held.  Inside it: the
 *    target's wait-queue locks, xpoll_nest_lock, ep->lock and
 *    xpoll_pins_lock, each alone.
 *    xpoll_nest_lock (spinlock, ctl.c): links and unlinks nesting edges
 *    (ep->children, ep->parents, struct xpoll_nest); walks read them
 *    under RCU.  Taken under ep->mtx or a file tree's lock; nothing is
 *    taken inside it.
 * 5. ep->lock (spinlock, irqsave): ep->rdllist, ep->ovflist, item->rdllink,
 *    item->next, ep->closed and ep->closed_nests, and every access to
 *    ep->wq (the blocked waiters; their entries are added without the
 *    wait queue's own lock).  Taken by the wake callback in any context,
 *    under the target's wait-queue lock.
 *    One exception, as in epoll: a transfer re-queues level-triggered
 *    items on ep->rdllist without it, which is safe because ovflist is
 *    active then (callbacks do not touch rdllist) and every scan holds
 *    ep->mtx (no other scan runs).
 * 6. ep->poll_wait.lock: the pollers of the instance itself.  Taken by
 *    the poller wakeup (ep->pw_work, or a process-context wakeup under
 *    at most ep->mtx; never inside another instance's poll_wait.lock:
 *    see Wakeups), and by pollers queueing and unqueueing themselves
 *    (poll_wait(), remove_wait_queue()) with no xpoll lock held.
 * A ring instance's shared memory is written by the producer under
 * ep->lock, and its slot numbers are taken under ep->mtx (ring.c).
 * ep->uevents' own bucket locks (rhashtable): its inserts and removals,
 * under ep->mtx; triggers look it up under RCU and then take ep->lock
 * (uevent.c).
 * xpoll_users_lock (spinlock, ctl.c) only guards the uid hash, and
 * xpoll_wakeups_lock (spinlock, wakeup.c) the item -> wakeup source hash;
 * both are taken with no other lock held, or under ep->mtx.  A wakeup
 * source's own lock is taken under ep->lock (__pm_stay_awake()).
 *
 * Global locks and how long one user can hold them
 * ------------------------------------------------
 * - xpoll_topo_lock (mutex): held by full ADDs only (ctl.c), for the loop
 *   check, O(instances and edges below the new child and above the
 *   parent), and the wakeup-path check, O(items of the instances below the
 *   child + watchers of their files, or watchers of the target file).
 *   epoll holds its global epmutex for the same two walks.  Also by the
 *   first user event ADDed to a watched instance: the paths above it,
 *   O(about 660 parents) at most (uevent.c).  Grows with the
 *   watches of the graph being changed, never with a wait: it is not held
 *   while sleeping on an instance's mutex.  Unlinking an edge does not
 *   take it.  A ctl reaps its instance's closed items before it takes it;
 *   only those closed in the moment between are reaped under it.
 * - xpoll_nest_lock (spinlock): O(1), one edge linked or unlinked.
 * - File tree locks (1024 hashed spinlocks, target.c): one tree descent,
 *   O(log items), and one item's unhooking per acquisition, or 64
 *   watchers of a file in a full ADD's path check (each visiting at most
 *   about 660 parents), or 64 items of a closing file in the close
 *   handler and the reaper.
 * - fsnotify's SRCU read section (not a lock, but every close of an
 *   inotify or fanotify descriptor waits for it): xpoll's close handler
 *   holds it for O(items of the closing file), about 1.1 us an item
 *   under TCG, never sleeping on anything (target.c).
 * - xpoll_sbmark_mutex and fsnotify's group mark_mutex (target.c): one
 *   fsnotify_add_mark() or fsnotify_destroy_mark(), O(1); the idle-mark
 *   collector, O(marks): one per filesystem with a recent watch.
 * - xpoll_pins_lock (spinlock, target.c): O(pins), watched pty masters
 *   and fanotify event descriptors, in the reaper's pass; O(1) otherwise.
 * - xpoll_users_lock: one hash lookup.
 * - xpoll_wakeups_lock (spinlock, wakeup.c): one entry added or removed;
 *   only items with EPOLLWAKEUP (CAP_BLOCK_SUSPEND) have one.
 * - Interrupts off: a wake callback or a user event's trigger, O(1) (in a
 *   ring instance too: ring.c); the
 *   end of a minimum-count wait, O(1) (a list splice); an instance's
 *   poller wakeup (ep->pw_work), O(its pollers); one event runs each
 *   instance's at most once per nesting level (see Wakeups).
 *
 * Reference counts and lifetimes
 * ------------------------------
 * - ep->ref (kref): one reference owned by the instance's file (dropped in
 *   ->release after every item is removed), one held by the reap work
 *   while it is queued (taken by the close of an item's file under the
 *   item's tree lock, see target.c), and one per instance a full ADD's
 *   path check is yet to visit (ctl.c).  The instance is freed at zero,
 *   after an RCU grace period (walks of the nesting edges run under RCU).
 * - An item lives from a successful ADD to its removal (DEL, release of
 *   its instance, the last close of its file, or for a pinned file the
 *   reaper finding it closed).  It first leaves its file's tree, its pwqs
 *   unhooked (remove_wait_queue() waits for a callback that runs on that
 *   queue) and its nesting edge dropped, in one hold of the tree's lock:
 *   under ep->mtx by a DEL or a release, or by the close of its file,
 *   which then puts the item on ep->closed (or ep->closed_nests), linked
 *   through its first wait entry, now on no queue.  Then, under ep->mtx,
 *   it leaves the rbtree and the ready list, its watch is given back
 *   (only then: a closed item still counts against max_user_watches),
 *   and it is freed.  So a callback never sees a freed item, and a closed
 *   item waits in the rbtree, never reported, until ep->reap_work or the
 *   next ctl or release removes it (xpoll_reap_closed()); every lookup
 *   by key runs after that, so a file that reuses a freed file's address
 *   never meets a closed item.
 * - A user event lives from its ADD to its DEL or the release of its
 *   instance, and is freed after an RCU grace period (uevent.c).
 * - A pwq whose wait queue dies first (POLLFREE: signalfd, binder) is
 *   detached by the callback itself: list_del_init() of the entry and
 *   smp_store_release() of pwq->whead = NULL.  The removal path reads whead
 *   with smp_load_acquire() under rcu_read_lock(); such queues are freed
 *   only after an RCU grace period, so remove_wait_queue() on a non-NULL
 *   whead is safe.
 * - The target file: see the top of target.c.  Items hold no reference on
 *   their file (pinned files excepted, one reference per file); the last
 *   close of a file closes its items before ->release, so item->file is
 *   valid while the item is not closed, and is polled only through a
 *   reference taken then (xpoll_item_fget()).
 * - A nested instance (an item whose file is an xpoll instance, as
 *   xpoll_kind_of() tells) is the same: closing its last descriptor
 *   closes the items that watch it, then releases it.
 *
 * Ready list and transfer
 * -----------------------
 * Callbacks append to ep->rdllist.  A transfer steals the ready list under
 * ep->lock into a private txlist and sets ep->ovflist active; callbacks then
 * chain items on ovflist (LIFO, through item->next; XPOLL_UNACTIVE marks an
 * item not on it).  Items are re-polled and copied out with only ep->mtx
 * held, in chunks (XPOLL_SEND_CHUNK): an item leaves txlist when it is
 * re-polled, and what its delivery does to it (level-triggered: back on the
 * ready list; one-shot: disarmed) happens only once its chunk is stored, so
 * the items of a chunk that faults go back to txlist untouched.  At the end
 * the ovflist items go back to the ready list in FIFO
 * order, the unsent txlist items in front of them, and waiters are woken.
 * This is the order epoll keeps, so both report the same events for the
 * same maxevents.  A minimum-count wait (wait.c) runs several transfers in
 * one call; the level-triggered items they deliver go on a list of the
 * call's own instead of the ready list (with ep->mtx held, as above; a
 * removal takes them off it under ep->lock) and back on the ready list
 * when the call ends, under both ep->mtx and ep->lock: every writer of the
 * ready list outside a callback holds ep->mtx, because of the exception
 * above.  A ring instance has no transfer and no ovflist: its events go to
 * the ring it shares with userspace, which harvests them itself; its
 * ready list only holds the items whose wakeup said no bits, until a wait
 * re-polls them under ep->mtx (ring.c).
 *
 * Nesting
 * -------
 * Instance A watching instance B: A's items re-poll B by calling B's poll
 * with depth + 1 (bounded by XPOLL_MAX_NESTS).  Cycles among instances and
 * chains deeper than epoll allows are refused at ADD (ctl.c), so pure xpoll
 * chains are finite.  An epoll file is a leaf to us and an xpoll file is a
 * leaf to epoll, so a mixed cycle (A contains epoll E, E contains A) can be
 * built from the epoll side; it must not deadlock or recurse for ever:
 * - poll: ep->mtx is only trylocked inside poll chains, so re-entering A
 *   falls back to the ready-list answer; and an epoll child is re-polled
 *   only from our own top-level ioctl (wait, ctl), never from A's
 *   f_op->poll, so E's mutex is never re-entered through us.  Residual: in
 *   those fallback cases A's f_op->poll may report EPOLLIN for an item that
 *   a full re-poll would have dropped (a spurious, never a lost, event).
 *
 * Wakeups
 * -------
 * Blocked waiters (ep->wq, exclusive entries) are woken once per item
 * queued, not once per event: a waiter sleeps only while nothing is
 * queued (checked under ep->lock), an item already queued woke one when
 * it was, and a waiter that leaves without taking the events after its
 * wakeup (a fatal signal; a fault puts them back at the end of its scan)
 * wakes the next.  So a wakeup stops at the first waiter that takes it,
 * and a minimum-count waiter takes the ones it counts without waking
 * (wait.c): no wakeup walks the sleepers, however many a user makes.
 * A callback queues its item and wakes the instance's blocked waiters at
 * once, but never wakes the instance's pollers (the items of the instances
 * that watch it) itself: it queues ep->pw_work, an irq_work, which does.
 * While that work is pending, every further wakeup of the same instance
 * joins it.  One event thus wakes each instance's pollers once per round
 * of irq_works on its CPU (a round runs what the previous one queued), and
 * a chain of nested instances has at most XPOLL_MAX_NESTS + 1 rounds: the
 * work of one event is bounded by the nesting edges it can reach, times
 * that, however many paths lead through them (a synchronous chain would
 * run one callback per path: W^5 for five layers of W instances each
 * watching the whole layer below).  No poll_wait lock is ever taken
 * inside another xpoll instance's, each hop starts on a fresh stack, and
 * the work runs with interrupts off for one instance's pollers at a time.
 * Cycles through epoll files (A -> E -> A, invisible to ADD): a wakeup
 * that comes through an epoll file belongs to a numbered wake chain (it
 * continues the chain of the pw_work it runs in, or starts one), every
 * pw_work carries the chain that queued it and records it in its
 * instance, and a wakeup through an epoll file for the chain that last
 * woke the instance is dropped, so such a cycle wakes each instance about
 * once per event and then stops.
 */
#ifndef _XPOLL_INTERNAL_H
#define _XPOLL_INTERNAL_H

#include <linux/fs.h>		/* before eventpoll.h, which needs it */
#include <linux/eventpoll.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/compat.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <linux/xpoll.h>

/*
 * Internals the KUnit module (module/kunit/) needs are exported only when
 * the kernel has KUnit, and only into the XPOLL_KUNIT namespace.
 */
#if IS_ENABLED(CONFIG_KUNIT)
#define EXPORT_SYMBOL_FOR_XPOLL_KUNIT(sym) EXPORT_SYMBOL_NS_GPL(sym, XPOLL_KUNIT)
#else
#define EXPORT_SYMBOL_FOR_XPOLL_KUNIT(sym)
#endif

/* Mode bits: never reported, kept when EPOLLONESHOT disarms an item. */
#define XPOLL_PRIVATE_BITS	(EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | \
				 EPOLLEXCLUSIVE)
#define XPOLL_INOUT_BITS	(EPOLLIN | EPOLLOUT)
#define XPOLL_EXCLUSIVE_OK_BITS	(XPOLL_INOUT_BITS | EPOLLERR | EPOLLHUP | \
				 EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)
/* Maximum nesting of instances, as epoll's EP_MAX_NESTS. */
#define XPOLL_MAX_NESTS		4
#define XPOLL_MAX_EVENTS	(INT_MAX / sizeof(struct epoll_event))
#define XPOLL_UNACTIVE		((void *)-1L)
/*
 * The key of a wakeup of ep->wq by an item that was queued now
 * (callback.c): a minimum-count waiter (wait.c) counts it.  Every other
 * waker passes NULL.
 */
#define XPOLL_WAKE_QUEUED	((void *)1L)

enum xpoll_kind {
	XPOLL_KIND_FILE,	/* any pollable file */
	XPOLL_KIND_XPOLL,	/* another xpoll instance */
	XPOLL_KIND_EPOLL,	/* an epoll instance (a leaf to us) */
};

struct xpoll_user {
	struct hlist_node node;
	kuid_t uid;
	refcount_t ref;			/* instances of this uid */
	atomic_long_t watches;		/* items of those instances */
};

/*
 * An instance's statistics (XPOLL_IOC_STATS, fdinfo; stats.c).  Each
 * counter is written where its path already holds a lock that serialises
 * it, so counting is an add in a cache line the path already owns; only
 * the counts of calls, which run under no lock of ours, are atomic (one
 * add per call, in the instance's own line).  Compiled out with
 * XPOLL_NO_STATS=1 (the benchmark's A/B against them).
 */
struct xpoll_counters {
	/* No lock: one atomic add per call. */
	atomic_long_t ctl[XPOLL_STATS_OPS];
	atomic_long_t ctl_errors[XPOLL_STATS_OPS];
	atomic_long_t waits, waits_slept, wakeups, wakeups_spurious;
	/* Under ep->mtx (a ring instance's under ep->lock: no transfer). */
	u64 events, events_lt, events_et, events_oneshot, lt_requeues;
	/* Under ep->lock. */
	u64 callbacks, callbacks_ovf, ready_max;
	/* Under ep->mtx: items (closed ones too) and user events. */
	u64 items;
	/*
	 * Items on the ready list, a transfer's txlist or a minimum-count
	 * wait's held list: added to when an item joins one of them under
	 * ep->lock, and by a transfer's net count at its end
	 * (xpoll_done_scan()), taken from by a removal.
	 */
	long nr_ready;
};

struct xpoll_instance {
	struct kref ref;
	struct mutex mtx;		/* rule 2 in the top comment */
	spinlock_t lock;		/* rule 5 in the top comment */
	wait_queue_head_t wq;		/* tasks blocked in XPOLL_IOC_WAIT */
	wait_queue_head_t poll_wait;	/* pollers of this instance */
	struct list_head rdllist;	/* ready items */
	struct xpoll_item *ovflist;	/* items readied during a transfer */
	struct rb_root_cached rbr;	/* interest tree, (file, fd) order */
	struct file *file;
	struct xpoll_user *user;	/* charged for the items */
	struct irq_work pw_work;	/* poller wakeup, see Wakeups */
	u64 last_chain;			/* wake chain that last woke pollers */
	u64 pending_chain;		/* wake chain pw_work continues */
	atomic_t pending_key;		/* EPOLL_URING_WAKE for pw_work */
	/* Nesting edges and the full ADD's memos: see the top of ctl.c. */
	struct list_head children;	/* xpoll_nest.child_link */
	struct list_head parents;	/* xpoll_nest.parent_link */
	u64 gen;			/* loop check memo */
	int loop_depth;
	u64 up_gen;			/* path check memo: up[] */
	u32 up[XPOLL_MAX_NESTS + 1];	/* paths up, by length */
	u64 visit_gen;			/* path check: visited */
	struct list_head check_link;	/* path check: yet to visit */
	/* Items their files' close handed over, under lock (ctl.c). */
	struct list_head closed;	/* item->pwq.wait.entry */
	struct list_head closed_nests;	/* the same, for nests */
	struct delayed_work reap_work;	/* removes them */
	struct wakeup_source *ws;	/* EPOLLWAKEUP, wakeup.c */
	struct rhashtable *uevents;	/* user events by key, uevent.c */
	struct xpoll_ring *ring;	/* the ready ring, if any: ring.c */
	u64 id;				/* stats and tracepoints name it so */
	struct xpoll_counters stats;	/* stats.c */
	struct list_head uevent_list;	/* the same, for release, fdinfo */
	/* Busy polling (busy.c). */
	unsigned int napi_id;		/* queue to busy-poll; 0: none */
	u32 busy_poll_usecs;		/* XPOLL_IOC_SET_PARAMS */
	u16 busy_poll_budget;
	u8 prefer_busy_poll;
	struct rcu_head rcu;		/* freed after a grace period */
};

/* A wait-queue entry of an item; wait.private points at the item. */
struct xpoll_pwq {
	wait_queue_entry_t wait;
	wait_queue_head_t *whead;	/* NULL: unused, or POLLFREE detached us */
	struct xpoll_pwq *next;		/* the item's further (allocated) entries */
};

/*
 * 168 bytes on 64-bit (24 to a page), and with its wait entry inside, the
 * whole cost of a watch of a file with one wait queue (epoll: epitem,
 * eppoll_entry and, per file, epitems_head).  What an item's target is
 * (enum xpoll_kind) is read off its file, not stored.
 */
struct xpoll_item {
	/*
	 * Laid out for the two hot paths.  A descent of the instance's tree
	 * reads rbn and file (bytes 0-31), the transfer of a ready item
	 * file, events, data and rdllink (bytes 24-63), and its statistics
	 * (the last 8).  Items are 8-byte aligned: 32-byte alignment, which
	 * kept the first 32 bytes in one cache line, would make an item 192
	 * bytes, 24 more than the statistics' 8.
	 */
	struct rb_node rbn;		/* in ep->rbr, under ep->mtx */
	struct file *file;		/* key of rbn (with fd) and of fnode */
	int fd;
	__poll_t events;		/* interest and mode bits */
	u64 data;
	struct list_head rdllink;	/* ready/tx list, under ep->lock */
	union {
		struct xpoll_item *next;	/* ovflist link, under ep->lock */
		u32 slot;	/* in a ring instance, which has no ovflist */
	};
	struct xpoll_instance *ep;
	struct rb_node fnode;		/* in its file's tree, target.c */
	struct xpoll_pwq pwq;		/* first wait entry (wait.func set) */
	u32 nr_reported;		/* events reported, mod 2^32 */
	u32 last_reported;		/* jiffies of the last one, low 32 bits */
};

/*
 * Where a transfer delivers events: user buffer, or a KUnit array.  put()
 * stores @n events at positions @idx.. in order and returns how many it
 * stored (fewer than @n on a fault).  It runs under ep->mtx, with the
 * ready list stolen (see "Ready list and transfer").
 */
struct xpoll_sink {
	int (*put)(struct xpoll_sink *sink, int idx,
		   const struct epoll_event *evs, int n);
	union {
		void __user *uptr;
		void *kptr;
	};
	bool slept;		/* set by a wait that slept */
};

extern const struct file_operations xpoll_fops;
extern unsigned long xpoll_max_user_watches;

/*
 * Reads up to @nwords 64-bit words from user memory at @src (aligned) in
 * one user-access section; returns how many were read, fewer only on a
 * fault.  The fast path of every argument and batch read
 * (xpoll_copy_arg(), batch.c):
 * inline, as a call and return cost about as much as a word under TCG.
 */
static inline size_t xpoll_read_words(u64 *dst, const u64 __user *src,
				      size_t nwords)
{
	size_t i = 0;

	if (!user_access_begin(src, nwords * sizeof(*src)))
		return 0;
	for (; i < nwords; i++)
		unsafe_get_user(dst[i], &src[i], out);
out:
	user_access_end();
	return i;
}

/*
 * Copies an ioctl argument in.  Each one is a whole number of 64-bit
 * words (checked in main.c): read in one user-access section, they cost a
 * small ctl or wait less than the generic copy routine, and that copy is
 * a cost epoll's register arguments do not have.  A misaligned argument
 * takes the generic path.
 *
 * The structs it fills are declared __uninitialized on the hot paths:
 * with CONFIG_INIT_STACK_ALL_ZERO (Debian's kernel) the compiler would
 * zero them first with a REP STOS on every call, which under TCG runs one
 * translated block per word; the copy writes every byte, or the call
 * fails without reading any.
 */
static inline int xpoll_copy_arg(void *dst, const void __user *src,
				 size_t size)
{
	size_t nwords = size / sizeof(u64);

	if (!IS_ALIGNED((unsigned long)src, sizeof(u64)))
		return copy_from_user(dst, src, size) ? -EFAULT : 0;
	return xpoll_read_words(dst, src, nwords) == nwords ? 0 : -EFAULT;
}

/* instance.c */
struct xpoll_instance *xpoll_instance_alloc(void);
void xpoll_instance_put(struct xpoll_instance *ep);
struct file *xpoll_instance_new_file(void);
int xpoll_open(struct inode *inode, struct file *file);
int xpoll_release(struct inode *inode, struct file *file);
__poll_t xpoll_poll(struct file *file, struct poll_table_struct *pt);
__poll_t xpoll_instance_poll(struct xpoll_instance *ep, poll_table *pt,
			     int depth, bool repoll_epoll);
void xpoll_remove_all(struct xpoll_instance *ep);

/* ctl.c */
struct xpoll_ctl;
int xpoll_ctl_one(struct xpoll_instance *ep, const struct xpoll_ctl *c);
int xpoll_ctl_file(struct xpoll_instance *ep, int op, struct file *tfile,
		   int fd, __poll_t events, u64 data);
int xpoll_ctl_fd(struct xpoll_instance *ep, int op, int fd, __poll_t events,
		 u64 data);
struct xpoll_item *xpoll_find(struct xpoll_instance *ep, struct file *file,
			      int fd);
bool xpoll_item_unhook(struct xpoll_item *it);
void xpoll_item_orphan(struct xpoll_item *it, bool nested);
void xpoll_reap_closed(struct xpoll_instance *ep);
void xpoll_reap_work_fn(struct work_struct *work);
bool xpoll_item_remove(struct xpoll_instance *ep, struct xpoll_item *it);
void xpoll_item_modify(struct xpoll_instance *ep, struct xpoll_item *it,
		       struct file *tfile, __poll_t events, u64 data);
int xpoll_uevent_path_check(struct xpoll_instance *ep);
struct xpoll_user *xpoll_user_get(kuid_t uid);
void xpoll_user_put(struct xpoll_user *u);
long xpoll_user_watches(kuid_t uid);
bool xpoll_watch_charge(struct xpoll_instance *ep);
int xpoll_ctl_init(void);
void xpoll_ctl_exit(void);

/* callback.c */
__poll_t xpoll_register_poll(struct xpoll_item *it, bool *ok);
void xpoll_unregister_item(struct xpoll_item *it);
void xpoll_item_queue_locked(struct xpoll_instance *ep, struct xpoll_item *it,
			     __poll_t pollflags, bool *pwake);
void xpoll_poll_wake(struct xpoll_instance *ep, struct xpoll_item *it,
		     __poll_t key);
void xpoll_pw_work_fn(struct irq_work *work);
int xpoll_cb_init(void);
void xpoll_cb_exit(void);

/* wait.c */
__poll_t xpoll_item_poll(struct xpoll_item *it, poll_table *pt, int depth,
			 bool repoll_epoll);
bool xpoll_events_available(struct xpoll_instance *ep);
void xpoll_start_scan(struct xpoll_instance *ep, struct list_head *txlist);
void xpoll_done_scan(struct xpoll_instance *ep, struct list_head *txlist,
		     long ready);
u64 xpoll_timer_slack(s64 timeout_ns);
int xpoll_send_events(struct xpoll_instance *ep, struct xpoll_sink *sink,
		      int maxevents);
int xpoll_wait_sink(struct xpoll_instance *ep, struct xpoll_sink *sink,
		    int maxevents, s64 timeout_ns);
int xpoll_wait_min(struct xpoll_instance *ep, struct xpoll_sink *sink,
		   int maxevents, s64 timeout_ns, u32 min_events,
		   s64 min_wait_ns);
long xpoll_ioc_wait(struct xpoll_instance *ep, void __user *uarg);
long xpoll_ioc_ctl_wait(struct xpoll_instance *ep, void __user *uarg);

/* wakeup.c */
int xpoll_wakeup_attach(struct xpoll_instance *ep, struct xpoll_item *it,
			struct file *file);
void xpoll_wakeup_detach(struct xpoll_item *it);
void xpoll_wakeup_stay_awake(const struct xpoll_item *it);
void xpoll_wakeup_relax(const struct xpoll_item *it);
void xpoll_wakeup_handover(struct xpoll_instance *ep,
			   const struct xpoll_item *it);

/* True if @it has a wakeup source (EPOLLWAKEUP kept, see wakeup.c). */
static inline bool xpoll_item_wakeup(const struct xpoll_item *it)
{
	return unlikely(READ_ONCE(it->events) & EPOLLWAKEUP);
}

/* busy.c */
#ifdef CONFIG_NET_RX_BUSY_POLL
extern unsigned int xpoll_sysctl_busy_poll;

/*
 * The busy-poll time of @ep in us, its own or else net.core.busy_poll's
 * (6.9's rule); 0: off.  Inline: the wake callback asks on every event.
 */
static inline unsigned int xpoll_busy_usecs(const struct xpoll_instance *ep)
{
	return READ_ONCE(ep->busy_poll_usecs) ?:
	       READ_ONCE(xpoll_sysctl_busy_poll);
}
#else
static inline unsigned int xpoll_busy_usecs(const struct xpoll_instance *ep)
{
	return 0;
}
#endif
void xpoll_busy_note(struct xpoll_instance *ep, struct file *file);
void xpoll_busy_add(struct xpoll_instance *ep, struct file *file);
bool xpoll_busy_loop(struct xpoll_instance *ep, const ktime_t *expires);
long xpoll_ioc_set_params(struct xpoll_instance *ep, void __user *uarg);
long xpoll_ioc_get_params(struct xpoll_instance *ep, void __user *uarg);
void xpoll_busy_init(void);
void xpoll_busy_exit(void);

/* batch.c */
int xpoll_ctls_check(const struct xpoll_ctl __user *uctls,
		     s32 __user *ures, u32 nr);
u32 xpoll_apply_ctls(struct xpoll_instance *ep,
		     const struct xpoll_ctl __user *uctls, s32 __user *ures,
		     u32 nr, u32 *applied, bool *failed);
long xpoll_ioc_ctl_batch(struct xpoll_instance *ep, void __user *uarg);

/* target.c */
bool xpoll_file_is_epoll(struct file *file);
enum xpoll_kind xpoll_kind_of(struct file *file);
int xpoll_target_attach(struct xpoll_item *it);
typedef bool (*xpoll_watcher_fn_t)(void *arg, struct xpoll_instance *ep);
bool xpoll_target_visit_watchers(struct file *file, xpoll_watcher_fn_t fn,
				 void *arg);
bool xpoll_target_detach(struct xpoll_item *it, bool *nested);
struct file *xpoll_item_fget(const struct xpoll_item *it);
void xpoll_reaper_kick(void);
void xpoll_reap_now(void);
long xpoll_nr_targets(void);
int xpoll_target_init(void);
void xpoll_target_exit(void);

/*
 * A file whose last close fsnotify does not report, so xpoll holds a
 * reference on it instead (target.c): FMODE_NONOTIFY (pty masters,
 * fanotify's event descriptors) and FMODE_PATH (never pollable, listed for
 * safety).
 */
static inline bool xpoll_file_pinned(const struct file *file)
{
	return file->f_mode & (FMODE_NONOTIFY | FMODE_PATH);
}

/*
 * True once the close of @it's file took it out of its file's tree
 * (RB_CLEAR_NODE(), see target.c): its file must not be touched any
 * more.  Read without the tree lock: a stale false only happens while the
 * close handler runs, and the file is not freed before it returns.
 */
static inline bool xpoll_item_closed(const struct xpoll_item *it)
{
	return READ_ONCE(it->fnode.__rb_parent_color) ==
	       (unsigned long)&it->fnode;
}

/*
 * A __u64 user pointer of an ioctl struct, from a 64- or 32-bit caller:
 * taken whole from both, as io_uring takes its own.  A 32-bit caller has
 * nothing mapped at or above 4 GiB, so a value with high bits set fails
 * with EFAULT where it is used, instead of being cut down to an address
 * that the caller may well have.
 */
static inline void __user *xpoll_u64_to_uptr(u64 val)
{
	return u64_to_user_ptr(val);
}

/*
 * access_ok(), and for a 32-bit caller also below 4 GiB: a buffer that is
 * checked up front (the events of a wait, which may never be written) is
 * refused at once when a 32-bit program cannot have it.
 */
static inline bool xpoll_uptr_ok(const void __user *p, unsigned long size)
{
	if (in_compat_syscall() &&
	    (u64)(uintptr_t)p + size > (u64)U32_MAX + 1)
		return false;
	return access_ok(p, size);
}

/* The order of the interest tree: by file pointer, then by fd. */
static inline int xpoll_cmp(struct file *f1, int fd1, struct file *f2, int fd2)
{
	if (f1 != f2)
		return f1 > f2 ? 1 : -1;
	return fd1 - fd2;
}

/* uevent.c */
int xpoll_uevent_ctl(struct xpoll_instance *ep, const struct xpoll_ctl *c);
__poll_t xpoll_uevent_poll(const struct xpoll_item *it);
void xpoll_uevent_remove_all(struct xpoll_instance *ep);
void xpoll_uevent_show(struct seq_file *m, struct xpoll_instance *ep);

/* A user event (uevent.c): an item with no file. */
static inline bool xpoll_item_is_user(const struct xpoll_item *it)
{
	return !it->file;
}

/* ring.c */
struct xpoll_ring;
long xpoll_ioc_ring_setup(struct xpoll_instance *ep, void __user *uarg);
int xpoll_mmap(struct file *file, struct vm_area_struct *vma);
int xpoll_ring_check_events(struct xpoll_instance *ep, __poll_t events);
int xpoll_ring_slot_get(struct xpoll_instance *ep, struct xpoll_item *it);
void xpoll_ring_modify(struct xpoll_instance *ep, struct xpoll_item *it,
		       __poll_t events, u64 data);
void xpoll_ring_withdraw(struct xpoll_instance *ep, struct xpoll_item *it);
void xpoll_ring_slot_put(struct xpoll_instance *ep, struct xpoll_item *it);
bool xpoll_ring_post(struct xpoll_instance *ep, struct xpoll_item *it,
		     __poll_t bits);
u32 xpoll_ring_count(struct xpoll_instance *ep);
void xpoll_ring_repoll(struct xpoll_instance *ep);
void xpoll_ring_show(struct seq_file *m, struct xpoll_instance *ep);
void xpoll_ring_free(struct xpoll_instance *ep);

/* stats.c */
u64 xpoll_new_id(void);
long xpoll_ioc_stats(struct xpoll_instance *ep, void __user *uarg);
void xpoll_stats_show(struct seq_file *m, struct xpoll_instance *ep);
void xpoll_item_stats_show(struct seq_file *m, const struct xpoll_item *it);
void xpoll_ctl_done(struct xpoll_instance *ep, const struct xpoll_ctl *c,
		    int res);

/*
 * Counting (see struct xpoll_counters): xpoll_count() under the counter's
 * lock, xpoll_count_call() for the atomic counts of calls.
 */
static inline void xpoll_count(u64 *counter)
{
#ifndef XPOLL_NO_STATS
	(*counter)++;
#endif
}

static inline void xpoll_count_call(atomic_long_t *counter)
{
#ifndef XPOLL_NO_STATS
	atomic_long_inc(counter);
#endif
}

/* @n more (or fewer) items ready, under ep->lock; keeps the high mark. */
static inline void xpoll_count_ready(struct xpoll_instance *ep, long n)
{
#ifndef XPOLL_NO_STATS
	ep->stats.nr_ready += n;
	if (ep->stats.nr_ready > 0 &&
	    ep->stats.nr_ready > (long)ep->stats.ready_max)
		ep->stats.ready_max = ep->stats.nr_ready;
#endif
}

/* An event of @it delivered, under the lock that serialises delivery. */
static inline void xpoll_count_event(struct xpoll_instance *ep,
				     struct xpoll_item *it)
{
#ifndef XPOLL_NO_STATS
	ep->stats.events++;
	if (it->events & EPOLLONESHOT)
		ep->stats.events_oneshot++;
	else if (it->events & EPOLLET)
		ep->stats.events_et++;
	else
		ep->stats.events_lt++;
	it->nr_reported++;
	it->last_reported = (u32)jiffies;
#endif
}

/* fdinfo.c */
void xpoll_show_fdinfo(struct seq_file *m, struct file *f);

#endif /* _XPOLL_INTERNAL_H */
