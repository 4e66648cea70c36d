/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libxpoll: the epoll API over /dev/xpoll.
 *
 * Each function has the signature and the errno behaviour of its epoll
 * counterpart (xpoll_create1 ~ epoll_create1, ...); the descriptors it
 * returns are xpoll instances, usable with these functions, with
 * poll()/select()/epoll (an instance is pollable) and with close().
 *
 * Events come back in the caller's struct epoll_event array unchanged in
 * layout: the array is handed to the kernel as it is, never copied.
 *
 * Link with -lxpoll (pkg-config --cflags --libs libxpoll).
 */
#ifndef XPOLL_XPOLL_H
#define XPOLL_XPOLL_H

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>
#include <linux/xpoll.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The only flag of xpoll_create1: same value as EPOLL_CLOEXEC/O_CLOEXEC. */
#define XPOLL_CLOEXEC	O_CLOEXEC

/* Open a new instance: as epoll_create1(); flags 0 or XPOLL_CLOEXEC. */
int xpoll_create1(int flags);
/* As epoll_create(): size is ignored but must be > 0 (else EINVAL). */
int xpoll_create(int size);
/* As epoll_ctl(): op is EPOLL_CTL_ADD/MOD/DEL; event may be NULL for DEL. */
int xpoll_ctl(int xpfd, int op, int fd, struct epoll_event *event);
/* As epoll_wait(): timeout in milliseconds, -1 blocks. */
int xpoll_wait(int xpfd, struct epoll_event *events, int maxevents,
	       int timeout);
/* As epoll_pwait(): sigmask (may be NULL) is set for the wait. */
int xpoll_pwait(int xpfd, struct epoll_event *events, int maxevents,
		int timeout, const sigset_t *sigmask);
/* As epoll_pwait2(): timeout NULL blocks, else a relative timespec. */
int xpoll_pwait2(int xpfd, struct epoll_event *events, int maxevents,
		 const struct timespec *timeout, const sigset_t *sigmask);

/*
 * Extensions (no epoll counterpart).
 * xpoll_version: ABI version and XPOLL_FEAT_* bits of the loaded module,
 * asked through the instance xpfd; 0 or -1 with errno (ENOTTY: not xpoll).
 */
int xpoll_version(int xpfd, uint32_t *abi_version, uint64_t *features);
/* 1 if fd is an xpoll instance, 0 if not, -1 with errno (EBADF). */
int xpoll_is_instance(int fd);
/*
 * XPOLL_IOC_CTL_BATCH (feature XPOLL_FEAT_CTL_BATCH): nr (1 ..
 * XPOLL_CTL_BATCH_MAX) changes in array order, each as xpoll_ctl() would
 * make it; results[i] gets 0 or -errno of ctls[i].  Returns the number of
 * results stored (nr unless a fault stopped it), or -1 with errno
 * (EINVAL: bad nr; EFAULT: nothing applied; ENOTTY: not an instance, or
 * a module without the feature).  See uapi/linux/xpoll.h.
 */
int xpoll_ctl_batch(int xpfd, const struct xpoll_ctl *ctls, int32_t *results,
		    unsigned int nr);
/*
 * xpoll_ctl_wait - apply changes, then wait, in one system call
 * (XPOLL_IOC_CTL_WAIT, feature XPOLL_FEAT_CTL_WAIT).
 *
 * ctls[0..nr) are applied in array order, each as xpoll_ctl() would apply
 * it and on its own; results[i] gets 0 or -errno of ctls[i]; *nr_done (if
 * not NULL) how many were applied: nr unless a fault in ctls or results
 * stopped them.  nr may be 0, ctls and results NULL then.  Then it waits as
 * xpoll_pwait2() with timeout_ns (< 0 forever, 0 no wait, > 0 relative)
 * and sigmask (NULL: none), and returns the number of events stored in
 * events[0..maxevents).
 *
 * If a change failed, or the changes stopped early, it does not sleep: it
 * returns the events ready at once (maybe 0), so that the caller sees the
 * failure in results[] without waiting for an event (kqueue's kevent()
 * likewise returns at once on a failed change).
 *
 * Returns -1 with errno.  Nothing applied: EINVAL (nr above
 * XPOLL_CTL_BATCH_MAX, maxevents out of range), EFAULT (an array, the
 * event buffer or the sigmask not in user space, ctls[0] unreadable),
 * ENOTTY (not an instance, or a module without the feature).  With the
 * changes applied (*nr_done says how many): EINTR (a signal during the
 * wait), EFAULT (the events could not be stored).  The timeout counts
 * from the end of the changes.  A cancellation point, as xpoll_wait():
 * a thread cancelled in it may have applied the changes.
 */
int xpoll_ctl_wait(int xpfd, const struct xpoll_ctl *ctls, int32_t *results,
		   unsigned int nr, unsigned int *nr_done,
		   struct epoll_event *events, int maxevents,
		   int64_t timeout_ns, const sigset_t *sigmask);

/*
 * xpoll_user_ctl - add, modify or delete a user event
 * (XPOLL_CTL_USER, feature XPOLL_FEAT_USER_EVENTS).
 *
 * A user event is an item with no file behind it, named by @key (a key
 * space of its own: key 5 and fd 5 are different items).  op is
 * EPOLL_CTL_ADD, EPOLL_CTL_MOD or EPOLL_CTL_DEL; events and data are the
 * interest and mode bits and the data, as for xpoll_ctl(); they are
 * ignored for DEL.  It behaves in every mode (level, EPOLLET,
 * EPOLLONESHOT) as an eventfd watched for the same bits would, with
 * xpoll_user_trigger() as the write and xpoll_user_clear() as the read.
 *
 * Returns 0, or -1 with errno: EEXIST (ADD of a key in use), ENOENT (MOD
 * or DEL of a key not in use), EINVAL (bad op or bits, EPOLLEXCLUSIVE
 * misuse), ENOSPC (user events count against max_user_watches), ENOMEM,
 * ENOTTY (not an instance).  A module without the feature refuses the
 * flag: EINVAL.
 */
int xpoll_user_ctl(int xpfd, int op, uint64_t key, uint32_t events,
		   uint64_t data);
/*
 * xpoll_user_trigger - set bits of user event @key of instance @xpfd
 *
 * ORs @events (1 or more of XPOLL_USER_BITS) into the event's pending
 * bits and reports it to a waiter if it is armed and interested in one of
 * them: a level-triggered event until it is cleared, an EPOLLET one once
 * per trigger.  Safe from any thread; it never waits for a wait in
 * progress.  A disarmed (EPOLLONESHOT) event keeps the bits for its next
 * EPOLL_CTL_MOD.  Returns 0, or -1 with errno: ENOENT (no such key),
 * EINVAL (events 0 or outside XPOLL_USER_BITS; a module without user
 * events), ENOTTY (not an instance).
 *
 * To trigger another thread's instance from within this thread's
 * xpoll_ctl_wait(), put a struct xpoll_ctl in the change list with op
 * XPOLL_CTL_TRIGGER, flags XPOLL_CTL_USER, fd that instance's descriptor,
 * key and events: the wakeup and the wait then cost one system call.
 */
int xpoll_user_trigger(int xpfd, uint64_t key, uint32_t events);
/*
 * xpoll_user_clear - take @events out of user event @key's pending bits
 * (an eventfd read).  Returns 0 or -1 with errno, as xpoll_user_trigger().
 */
int xpoll_user_clear(int xpfd, uint64_t key, uint32_t events);
/*
 * xpoll_wait_min - wait for a batch of events
 * (feature XPOLL_FEAT_MIN_WAIT), in the spirit of a tty's VMIN and VTIME.
 *
 * As xpoll_pwait2() with timeout_ns (< 0 forever, 0 no wait, > 0
 * relative), but once there is an event it keeps waiting, storing events
 * as they come, until min_events (1 .. maxevents) are stored, or
 * min_wait_ns (0: no limit) have passed since the first one arrived, or
 * the timeout, whichever comes first.  A level-triggered item is reported
 * at most once per call.  A signal returns the events stored, or EINTR
 * if there are none.  min_events 1 is an ordinary wait.
 *
 * Returns the number of events stored, or -1 with errno: EINVAL
 * (min_events 0 or above maxevents, min_wait_ns negative, maxevents),
 * EFAULT, EINTR, ENOTTY (not an instance).  A module without the feature
 * refuses the fields: EINVAL.  A cancellation point, as xpoll_wait().
 */
int xpoll_wait_min(int xpfd, struct epoll_event *events, int maxevents,
		   unsigned int min_events, int64_t min_wait_ns,
		   int64_t timeout_ns, const sigset_t *sigmask);

/*
 * The ready ring (feature XPOLL_FEAT_RING; the protocol is in
 * uapi/linux/xpoll.h): events harvested from memory shared with the
 * kernel, without a system call while there are any.
 *
 * struct xpoll_ring is the caller's view of one ring instance's mapping;
 * its fields are set by xpoll_ring_setup() and only read afterwards.
 */
struct xpoll_ring {
	int xpfd;			/* the instance */
	unsigned int entries;		/* slots, and indices in the ring */
	struct xpoll_ring_hdr *hdr;	/* the mapping */
	struct xpoll_ring_slot *slots;
	uint32_t *ring;
	size_t size;			/* of the mapping */
};
/*
 * xpoll_ring_setup - make @xpfd, an instance with no item yet, a ring
 * instance of @entries slots (a power of 2, 1 .. XPOLL_RING_MAX_ENTRIES;
 * at most @entries items), and map its ring into @ring.
 *
 * Every item added to it afterwards must be EPOLLET (EPOLLONESHOT may be
 * added; EPOLLWAKEUP may not). Returns 0, or -1 with errno: EINVAL
 * (entries), EBUSY (items, or a ring, already), ENOMEM (memory, or
 * RLIMIT_MEMLOCK), ENOTTY (not an instance, or no ring in the module),
 * or mmap()'s errno: the instance is a ring instance then, and a
 * second call fails EBUSY (mmap() it again, or close it).
 */
int xpoll_ring_setup(int xpfd, unsigned int entries, struct xpoll_ring *ring);
/*
 * xpoll_ring_harvest - take up to @maxevents events from the ring, with
 * no system call: each as epoll_wait() stores it (the ready bits, the
 * item's data). Taking an event re-arms its item: its next event is
 * appended again. Safe from several threads at once (each event goes to
 * one of them) and async-signal-safe. Recovers from an overflow by
 * taking every slot with ready bits. Makes one system call only when the
 * kernel asks for a re-poll (a wakeup that said no bits: a socket's state
 * change, a pipe's last close). Returns the number stored, 0 if the ring
 * is empty.
 */
int xpoll_ring_harvest(struct xpoll_ring *ring, struct epoll_event *events,
		       int maxevents);
/*
 * xpoll_ring_wait - xpoll_ring_harvest(), and if the ring is empty, sleep
 * in the kernel until it is not (timeout_ns < 0 forever, 0 not at all,
 * > 0 relative; sigmask as xpoll_pwait2()), then harvest. Returns the
 * number of events stored (0 at the timeout), or -1 with errno (EINTR,
 * EINVAL: maxevents). A cancellation point, as xpoll_wait().
 */
int xpoll_ring_wait(struct xpoll_ring *ring, struct epoll_event *events,
		    int maxevents, int64_t timeout_ns, const sigset_t *sigmask);
/*
 * xpoll_ring_unmap - unmap @ring. The instance stays a ring instance; its
 * descriptor may map it again. Returns 0 or -1 with munmap()'s errno.
 */
int xpoll_ring_unmap(struct xpoll_ring *ring);

#ifdef __cplusplus
}
#endif

#endif /* XPOLL_XPOLL_H */
