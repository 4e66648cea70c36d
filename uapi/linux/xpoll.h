/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xpoll: an alternative eventpoll behind /dev/xpoll.
 *
 * Every open() of /dev/xpoll is one instance, the counterpart of an
 * epoll_create1() descriptor; these ioctls are its system calls.
 *
 * Rules of this ABI:
 *  - every struct has a fixed size and the same layout on 32- and 64-bit
 *    userspace (explicit padding, __u64 for user pointers), so compat
 *    callers use the same commands; a user pointer is taken whole from
 *    every caller, so a 32-bit program must zero-extend it (a cast through
 *    uintptr_t does): high bits set make the call fail with EFAULT;
 *  - every reserved field and every flags field with no defined bit must
 *    be zero on input, else the call fails with EINVAL: that is how later
 *    versions add fields without breaking older binaries;
 *  - event bits are epoll's own (EPOLLIN, EPOLLET, ...), and events are
 *    returned in the kernel's struct epoll_event layout, so an epoll
 *    program's buffer is passed as it is;
 *  - this header includes neither <linux/eventpoll.h> nor <sys/epoll.h>,
 *    so it can sit beside either.
 *
 * XPOLL_IOC_VERSION tells the ABI version and which features this module
 * implements; a program checks a feature bit before it uses the feature.
 */
#ifndef _UAPI_LINUX_XPOLL_H
#define _UAPI_LINUX_XPOLL_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/const.h>

#define XPOLL_DEVICE		"/dev/xpoll"
#define XPOLL_ABI_VERSION	1

/* Feature bits reported by XPOLL_IOC_VERSION. */
#define XPOLL_FEAT_CTL		_BITULL(0)	/* XPOLL_IOC_CTL */
#define XPOLL_FEAT_WAIT		_BITULL(1)	/* XPOLL_IOC_WAIT, with sigmask */
#define XPOLL_FEAT_POLL		_BITULL(2)	/* instance is pollable/nestable */
#define XPOLL_FEAT_FDINFO	_BITULL(3)	/* items listed in fdinfo */
#define XPOLL_FEAT_PARAMS	_BITULL(4)	/* XPOLL_IOC_{SET,GET}_PARAMS */
#define XPOLL_FEAT_CTL_BATCH	_BITULL(8)	/* XPOLL_IOC_CTL_BATCH */
#define XPOLL_FEAT_CTL_WAIT	_BITULL(9)	/* XPOLL_IOC_CTL_WAIT */
#define XPOLL_FEAT_USER_EVENTS	_BITULL(10)	/* XPOLL_CTL_USER items */
#define XPOLL_FEAT_RING		_BITULL(11)	/* XPOLL_IOC_RING_SETUP, mmap */
#define XPOLL_FEAT_MIN_WAIT	_BITULL(12)	/* xpoll_wait.min_events */
#define XPOLL_FEAT_STATS	_BITULL(13)	/* XPOLL_IOC_STATS, tracepoints */

struct xpoll_version {
	__u32 abi_version;	/* out: XPOLL_ABI_VERSION */
	__u32 reserved0;	/* in: must be 0 */
	__u64 features;		/* out: XPOLL_FEAT_* */
	__u64 reserved[2];	/* in: must be 0 */
};

/* ops: the values of EPOLL_CTL_ADD, EPOLL_CTL_DEL and EPOLL_CTL_MOD */
#define XPOLL_CTL_ADD		1
#define XPOLL_CTL_DEL		2
#define XPOLL_CTL_MOD		3
/* ops of user events only (XPOLL_CTL_USER) */
#define XPOLL_CTL_TRIGGER	4
#define XPOLL_CTL_CLEAR		5

/* flags */
#define XPOLL_CTL_USER		(1U << 0)	/* a user event, see below */

struct xpoll_ctl {
	__u32 op;		/* XPOLL_CTL_* */
	__s32 fd;		/* target descriptor; see user events */
	__u32 events;		/* EPOLL* event and mode bits, as epoll_ctl */
	__u32 flags;		/* 0 or XPOLL_CTL_USER */
	__u64 data;		/* returned with every event of this target */
	__u64 key;		/* XPOLL_CTL_USER: the user event; else 0 */
	__u64 reserved;		/* must be 0 */
};

/*
 * User events (XPOLL_FEAT_USER_EVENTS): an item with no file behind it,
 * named by a 64-bit key of the caller's choosing in its own key space (a
 * key never collides with a descriptor).  It behaves in every mode as an
 * eventfd watched for the same bits: TRIGGER is a write to that eventfd,
 * CLEAR a read from it.
 *
 * A user event holds a set of pending bits, empty at ADD.  TRIGGER ORs
 * @events into it and queues the event if it is armed and its interest
 * set shares a bit with them; CLEAR takes @events out of it and queues
 * nothing.  A wait reports (pending & interest); EPOLLERR and EPOLLHUP are
 * always of interest, as for a file.  So, as for that eventfd:
 *  - level-triggered: reported at every wait until CLEARed;
 *  - EPOLLET: reported once per TRIGGER (another TRIGGER reports it again,
 *    pending or not), so a wakeup needs no CLEAR;
 *  - EPOLLONESHOT: disarmed once reported; a TRIGGER of a disarmed event
 *    is recorded (0 is returned) and reported when MOD re-arms it;
 *  - EPOLLEXCLUSIVE: accepted at ADD with the same rules as for a file (no
 *    MOD, only EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLWAKEUP and
 *    EPOLLET besides).  A user event belongs to one instance, so there is
 *    no other instance for it to exclude: it changes nothing else;
 *  - MOD replaces the interest set and data and keeps the pending bits:
 *    if they meet the new set the event is reported, as MOD re-polls a
 *    file.
 *
 * Against kqueue's EVFILT_USER: TRIGGER is NOTE_TRIGGER combined with
 * NOTE_FFOR on the pending bits, CLEAR is NOTE_FFAND with their
 * complement.  EV_CLEAR's reset-on-delivery is not taken: EPOLLET gives
 * one report per trigger without it, and an event that keeps its state
 * until it is cleared is exactly the eventfd every epoll program already
 * uses for this, so a program moves to user events one call at a time.
 * There is no NOTE_FFCOPY, and the data reported is the one set by ADD or
 * MOD (kqueue's udata), not the pending bits.
 *
 * Fields, with XPOLL_CTL_USER in flags:
 *  - ADD, MOD, DEL: fd must be -1; key names the event.  Errors as for a
 *    file: EEXIST (ADD of a key in use), ENOENT (MOD or DEL of a key not
 *    in use), EINVAL (EPOLLEXCLUSIVE misuse), ENOSPC (a user event counts
 *    against max_user_watches as a watch does), ENOMEM.
 *  - TRIGGER, CLEAR: fd is -1 for this instance, or a descriptor of
 *    another instance whose event is meant (EBADF if it is not open,
 *    EINVAL if it is not an instance): a thread can so wake another
 *    thread's instance from inside its own XPOLL_IOC_CTL_WAIT.  events: 1
 *    or more of XPOLL_USER_BITS, else EINVAL; data must be 0.  ENOENT if
 *    no event has the key there (never added, or deleted).  Neither takes
 *    the instance's mutex: a trigger never waits for a wait in progress.
 * Without XPOLL_CTL_USER, key must be 0 (EINVAL), and TRIGGER and CLEAR
 * are unknown ops, refused as any other (EBADF for a bad fd, else EINVAL).
 * fdinfo lists user events, in the order they were added, as
 * "uev: <key> events: <interest> data: <data> pending: <bits>" (hex).
 */
/* EPOLLIN, PRI, OUT, ERR, HUP, RDNORM, RDBAND, WRNORM, WRBAND, MSG, RDHUP */
#define XPOLL_USER_BITS		0x000027dfU

/* timeout_ns: any negative value blocks until an event or a signal. */
#define XPOLL_TIMEOUT_INFINITE	(-1LL)

/*
 * Minimum-wait batching (XPOLL_FEAT_MIN_WAIT), the tty's VMIN and VTIME
 * for events: with min_events > 0 a wait that would sleep returns once
 * min_events events are stored, or min_wait_ns after its first event
 * arrived (or was found ready at the call; 0: no such limit), or at
 * timeout_ns, whichever comes first.  The caller sleeps through the batch
 * and is woken once, at its end; the events it counts are its own, as an
 * exclusive waiter's (another thread asleep on the instance is not woken
 * for them).  Events are stored as they come and the
 * call returns all it stored (between 1 and maxevents, or 0 at the
 * timeout).  A level-triggered item is reported at most once per call:
 * while the call lasts it is the call's, unseen by other waiters, poll()
 * and parent instances, and it is back on the ready list (and they are
 * woken) when the call returns.  An edge-triggered item that fires again
 * after it was stored is stored again (a new edge), as two waits would
 * report it.  A signal ends the wait as it ends a plain one: the events
 * stored are returned, or EINTR if there are none.  timeout_ns 0 returns
 * at once, as without it.  EINVAL: min_events above maxevents,
 * min_wait_ns negative, or min_wait_ns set with min_events 0.
 */
struct xpoll_wait {
	__u64 events;		/* user pointer: struct epoll_event[maxevents] */
	__s32 maxevents;	/* 1 .. INT_MAX / sizeof(struct epoll_event) */
	__u32 flags;		/* must be 0 */
	__s64 timeout_ns;	/* < 0 forever, 0 return at once, > 0 relative */
	__u64 sigmask;		/* user pointer to a sigset_t, or 0 for none */
	__u32 sigsetsize;	/* size of that sigset_t (8 on Linux) */
	__u32 min_events;	/* 0: off; else 1 .. maxevents */
	__s64 min_wait_ns;	/* 0 .. : after the first event; 0: none */
	__u64 reserved;		/* must be 0 */
};

/*
 * Many changes in one call.  ctls[i] is applied exactly as XPOLL_IOC_CTL
 * would apply it (same checks, same errno, reserved fields included), in
 * array order, each on its own: the batch is not atomic, and a change that
 * fails does not stop the ones after it.  results[i] receives 0 or the
 * negative errno of ctls[i].
 *
 * The call returns the number of results stored: nr, unless reading
 * ctls[i] or storing results[i] faulted, or a fatal signal arrived, which
 * stops the batch at i (a fault on results[i] comes after ctls[i] was
 * applied).  It fails, with nothing applied, with EINVAL for a bad header
 * (flags, reserved, nr 0 or above XPOLL_CTL_BATCH_MAX) and with EFAULT when
 * the header or ctls[0] cannot be read, results[0] cannot be written, or
 * either array does not lie in user space.
 */
#define XPOLL_CTL_BATCH_MAX	1024

struct xpoll_ctl_batch {
	__u64 ctls;		/* user pointer: struct xpoll_ctl[nr] */
	__u64 results;		/* user pointer: __s32[nr], out */
	__u32 nr;		/* 1 .. XPOLL_CTL_BATCH_MAX */
	__u32 flags;		/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * Changes, then a wait, in one call: an event loop's turn for one system
 * call, as kevent() takes a changelist and returns events.
 *
 * ctls[0..nr) are applied exactly as XPOLL_IOC_CTL_BATCH applies them (in
 * order, each on its own, results[i] receiving 0 or the negative errno of
 * ctls[i]); nr may be 0.  nr_done receives how many were applied: nr,
 * unless reading ctls[i] faulted or a fatal signal came, which stops the
 * changes before ctls[i], or storing results[i] faulted, which stops them
 * after it.  Then the call waits as XPOLL_IOC_WAIT with @wait (events,
 * maxevents, timeout_ns counted from the end of the changes, sigmask, the
 * same rules and EINTR, which comes with the changes applied) and returns
 * the number of events stored.
 *
 * A change that fails, or changes that stop before nr, turn the wait into
 * a poll: the call returns the events ready now without sleeping, so the
 * caller learns of the failure at once (kevent() too returns at once when
 * a change fails, reporting it as an event; here results[] says which).
 *
 * It fails with nothing applied: EINVAL for nr above XPOLL_CTL_BATCH_MAX,
 * and for what XPOLL_IOC_WAIT refuses (wait.flags or reserved fields not
 * 0, sigsetsize, maxevents); EFAULT when the struct cannot be read or
 * nr_done written, when the sigmask, the events buffer or (nr > 0) the
 * arrays do not lie in user space (below 4 GiB for a 32-bit caller), or
 * when ctls[0] cannot be read.  Once a change is applied the call fails
 * with EFAULT only if the events cannot be stored, as XPOLL_IOC_WAIT.
 */
struct xpoll_ctl_wait {
	__u64 ctls;		/* user pointer: struct xpoll_ctl[nr] */
	__u64 results;		/* user pointer: __s32[nr], out */
	__u32 nr;		/* 0 .. XPOLL_CTL_BATCH_MAX */
	__u32 nr_done;		/* out: changes applied */
	struct xpoll_wait wait;	/* the wait, as XPOLL_IOC_WAIT's */
};

/*
 * Busy polling of an instance, as Linux 6.9's struct epoll_params
 * (EPIOCSPARAMS / EPIOCGPARAMS), with the same rules.  A wait that finds
 * nothing ready busy-polls the NAPI queue of the last socket with one
 * that became ready, before it sleeps, for busy_poll_usecs; 0 there means
 * the net.core.busy_poll sysctl decides, as for epoll.  SET fails with
 * EINVAL for pad or reserved not 0, busy_poll_usecs above INT32_MAX or
 * prefer_busy_poll above 1, and with EPERM for busy_poll_budget above 64
 * without CAP_NET_ADMIN; both fail with EOPNOTSUPP on a kernel without
 * CONFIG_NET_RX_BUSY_POLL.  Two differences from 6.9, both bounds: a busy
 * poll also ends at a signal and at the wait's timeout, and
 * prefer_busy_poll 1 needs CAP_NET_ADMIN (EPERM), as SO_PREFER_BUSY_POLL
 * does on 6.1.
 */
struct xpoll_params {
	__u32 busy_poll_usecs;	/* 0: the sysctl's; at most INT32_MAX */
	__u16 busy_poll_budget;	/* packets per poll; 0: 8 */
	__u8 prefer_busy_poll;	/* 0 or 1 */
	__u8 pad;		/* must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * The ready ring (XPOLL_FEAT_RING): events harvested from shared memory
 * without a system call, after Roman Penyaev's EPOLL_USERPOLL (2019).
 *
 * Setup.  XPOLL_IOC_RING_SETUP turns an instance that has no item now
 * (none ever, or all deleted) into a ring instance, for good: @entries
 * (a power of 2, 1 .. XPOLL_RING_MAX_ENTRIES) is both its number of
 * slots, so its limit of items (ADD fails with ENOSPC beyond it), and the
 * size of its ring of indices.  The call returns the layout, then the
 * caller mmap()s mmap_size bytes (or a prefix of them) at offset 0,
 * MAP_SHARED, without PROT_EXEC (EINVAL otherwise; ENODEV, as for epoll,
 * before the setup).  EBUSY: the instance has items or user events, or a
 * ring.  ENOMEM: memory, or RLIMIT_MEMLOCK: the mapping is charged to the
 * locked memory of the user who set it up, added up over that user's
 * rings, as io_uring charges its registered buffers, unless the caller
 * has CAP_IPC_LOCK; and to the memory cgroup.  The mapping is laid out:
 *   offset 0:          struct xpoll_ring_hdr
 *   offset slots_off:  struct xpoll_ring_slot slots[entries]
 *   offset ring_off:   __u32 ring[entries], indices into slots[]
 * The mapping holds the instance open: closing its descriptors does not
 * release it before munmap().  fork() shares the ring with the child, as
 * it shares the instance.  fdinfo adds a "ring:" line (the kernel's
 * tail, the head, overflow).
 *
 * Each item (file or user event) of a ring instance owns one slot from
 * ADD to its removal; the slot holds its interest set and data as ADD or
 * MOD set them.  Events go to the ring, not to the in-kernel ready list:
 *  - Producer (the wake callback, any context): it ORs the event's bits,
 *    as the waker gave them, within the item's interest set (EPOLLERR and
 *    EPOLLHUP always in it), into slot.ready, and only if slot.ready was 0
 *    stores the slot's index at ring[tail & (entries - 1)] and then
 *    publishes tail + 1 with a store-release.  So a slot is in the ring
 *    once until it is harvested, and a well-behaved consumer never sees
 *    the ring full.
 *  - A waker that passes no bits (a socket's state change, a pipe's last
 *    close) cannot be posted so: the kernel keeps the item for a re-poll
 *    and stores 1 in hdr.repoll.  The consumer that sees it calls
 *    XPOLL_IOC_WAIT (timeout 0 will do), which re-polls those items and
 *    posts what they are ready for, as epoll's re-poll would report it.
 *  - Consumer: load-acquire tail; for each position from head: read the
 *    index, advance head (a store-release, or a compare-and-swap when
 *    several threads harvest), then exchange slot.ready for 0.  The bits
 *    taken and slot.data are the event; bits 0 (already taken, or the
 *    item was removed, modified or its file closed) mean the index is
 *    skipped.  The exchange is the re-arm: the next event appends the
 *    slot again.
 *  - If the ring is full (only a consumer that lags behind DEL and ADD of
 *    items, or that breaks the protocol, can fill it), the bits stay in
 *    the slot, the kernel stores 1 in hdr.overflow and its own tail in
 *    hdr.tail: the consumer stores 0 in overflow, harvests the ring, then
 *    takes every slot whose ready bits are not 0 (a consumer that lost
 *    its head may also start again from head = tail).
 * Modes: every item of a ring instance is edge-triggered (EPOLLET is
 * required, EINVAL without it), since no harvest re-polls the file.
 * EPOLLONESHOT is disarmed when its event is posted (MOD re-arms it).
 * MOD clears the slot's ready bits and posts what its re-poll finds, as
 * epoll's MOD reports the new interest set's readiness.  EPOLLEXCLUSIVE
 * keeps its meaning for the target's wakeup.  EPOLLWAKEUP is refused
 * (EINVAL): no transfer ends its hold.
 * Waiting.  XPOLL_IOC_WAIT (and CTL_WAIT's wait) on a ring instance
 * stores no event: events must be 0 and min_events 0 (EINVAL; also for
 * a wait with a buffer begun before the setup).  It re-polls the items
 * hdr.repoll is about, then returns at once with the number of indices
 * in the ring (at most maxevents, 1 .. as for a plain wait; 1 if the
 * ring is empty and overflow is set), or sleeps until there is one, as a
 * plain wait.  poll() reports EPOLLIN when the ring has an index, overflow
 * is set or an item awaits its re-poll, so a ring instance nests in epoll
 * or another instance.
 * Against epoll ET: every event epoll would report is harvested, with
 * the same data and bits; as no harvest re-polls, an event whose
 * readiness was gone again by the harvest is still reported, with the
 * bits its waker gave.
 * Distrust: the kernel keeps its own tail and slot numbers and only
 * reads hdr.head (a head that is not within entries behind the tail
 * makes the ring full) and slot.ready; what userspace writes anywhere in
 * the mapping changes only what it harvests itself.
 */
#define XPOLL_RING_MAX_ENTRIES	0x100000U	/* 2^20 */

struct xpoll_ring_setup {
	__u32 entries;		/* in: power of 2, 1 .. XPOLL_RING_MAX_ENTRIES */
	__u32 flags;		/* in: must be 0 */
	__u64 mmap_size;	/* out: bytes to map at offset 0 */
	__u32 slots_off;	/* out: offset of slots[] */
	__u32 ring_off;		/* out: offset of ring[] */
	__u64 reserved[2];	/* in: must be 0 */
};

struct xpoll_ring_hdr {
	__u32 head;		/* consumer position, written by userspace */
	__u32 pad0[15];		/* head and tail in cache lines of their own */
	__u32 tail;		/* producer position, written by the kernel */
	__u32 overflow;		/* 1: the ring was full (see above) */
	__u32 entries;		/* as set up */
	__u32 repoll;		/* 1: items wait for a re-poll (see above) */
	__u32 pad1[12];
};

struct xpoll_ring_slot {
	__u32 ready;		/* ready bits: the kernel ORs, userspace takes */
	__u32 events;		/* the item's interest set */
	__u64 data;		/* the item's data */
};

/*
 * Statistics (XPOLL_FEAT_STATS): what an instance did since its open(),
 * read with XPOLL_IOC_STATS, and shown in fdinfo as "id:" and "stats"
 * lines, with every item's line ending in "reported: <n> last_ms: <ms
 * since its last report, or -1>" (n counts mod 2^32, the time mod 2^32
 * jiffies).  Counters only grow (items excepted: a count of what the
 * instance holds); they are not taken atomically together, so two read
 * in one call may be a few events apart on a busy instance.  A call that
 * is refused whole (EINVAL, EFAULT before anything is applied) counts
 * nothing; a change counts on the instance it was made on, and a trigger
 * of another instance's user event there as a change, and as a callback
 * on that instance.  waits_slept counts when the wait returns.
 * ready_max counts the items on the ready list, a transfer's list and a
 * minimum-count wait's own (for a ring instance: items awaiting a
 * re-poll).  The module's
 * tracepoints (events/xpoll/ in tracefs) name an instance by the same
 * id, never by a kernel pointer.
 *
 * In: flags must be 0 (EINVAL); every other field is out.  A later
 * version adds fields in reserved[] and raises version.
 */
#define XPOLL_STATS_VERSION	1
/* ctl[] and ctl_errors[]: [op] for ops 1 .. 5 (whatever the flags), [0] others */
#define XPOLL_STATS_OPS		6

struct xpoll_stats {
	__u32 version;		/* out: XPOLL_STATS_VERSION */
	__u32 flags;		/* in: must be 0 */
	__u64 id;		/* the instance's id, from 1, never reused */
	__u64 ctl[XPOLL_STATS_OPS];	/* changes, by op (ctl, batch, ctl+wait) */
	__u64 ctl_errors[XPOLL_STATS_OPS];	/* of those, failed */
	__u64 waits;		/* waits (WAIT, CTL_WAIT) */
	__u64 waits_slept;	/* of those, that slept */
	__u64 wakeups;		/* times a sleeping wait was woken */
	__u64 wakeups_spurious;	/* of those, followed by nothing to report */
	__u64 events;		/* events delivered (ring: indices appended) */
	__u64 events_lt;	/* of those, of level-triggered items */
	__u64 events_et;	/* of EPOLLET items without EPOLLONESHOT */
	__u64 events_oneshot;	/* of EPOLLONESHOT items */
	__u64 callbacks;	/* wakeups of items that matched their interest */
	__u64 callbacks_ovf;	/* of those, diverted to the overflow list */
	__u64 lt_requeues;	/* level-triggered items queued again after delivery */
	__u64 ready_max;	/* the most items ready at once */
	__u64 items;		/* items and user events now */
	__u64 reserved[7];	/* out: 0 */
};

#define XPOLL_IOC_MAGIC		0xB8
/* Returns 0. */
#define XPOLL_IOC_VERSION	_IOWR(XPOLL_IOC_MAGIC, 0x00, struct xpoll_version)
/* Returns 0, or -1 with errno exactly as epoll_ctl(2). */
#define XPOLL_IOC_CTL		_IOW(XPOLL_IOC_MAGIC, 0x01, struct xpoll_ctl)
/* Returns the number of events stored, as epoll_pwait2(2). */
#define XPOLL_IOC_WAIT		_IOW(XPOLL_IOC_MAGIC, 0x02, struct xpoll_wait)
/* Returns the number of results stored (see struct xpoll_ctl_batch). */
#define XPOLL_IOC_CTL_BATCH	_IOW(XPOLL_IOC_MAGIC, 0x03, struct xpoll_ctl_batch)
/* Returns the number of events stored (see struct xpoll_ctl_wait). */
#define XPOLL_IOC_CTL_WAIT	_IOWR(XPOLL_IOC_MAGIC, 0x04, struct xpoll_ctl_wait)
/* Returns 0 (see the ready ring above). */
#define XPOLL_IOC_RING_SETUP	_IOWR(XPOLL_IOC_MAGIC, 0x05, struct xpoll_ring_setup)
/* Returns 0 (see struct xpoll_stats). */
#define XPOLL_IOC_STATS		_IOWR(XPOLL_IOC_MAGIC, 0x06, struct xpoll_stats)
/* 0x07..0x0f are reserved for the commands the feature bits above name. */
/* Return 0 (see struct xpoll_params). */
#define XPOLL_IOC_SET_PARAMS	_IOW(XPOLL_IOC_MAGIC, 0x10, struct xpoll_params)
#define XPOLL_IOC_GET_PARAMS	_IOR(XPOLL_IOC_MAGIC, 0x11, struct xpoll_params)

#endif /* _UAPI_LINUX_XPOLL_H */
