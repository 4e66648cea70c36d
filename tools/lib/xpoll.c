// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libxpoll: epoll's API over the ioctls of /dev/xpoll (uapi/linux/xpoll.h).
 *
 * Errno rules. The ioctls return epoll's errno for everything the module
 * sees; this file only adds what happens before the kernel is entered in
 * epoll's own order of checks:
 *  - epoll_create1: flags other than EPOLL_CLOEXEC -> EINVAL;
 *    epoll_create: size <= 0 -> EINVAL. A missing /dev/xpoll gives open()'s
 *    errno (ENOENT; ENXIO/ENODEV when the node exists without the module).
 *  - epoll_ctl copies the event before it looks at the descriptors, so a
 *    NULL event for an op other than DEL is EFAULT whatever the fds are.
 *    (A non-NULL but unmapped event pointer faults in this library, where
 *    the kernel would say EFAULT: the fields are read here to fill the
 *    ioctl struct.)
 *  - epoll_wait checks maxevents before the descriptor: EINVAL first.
 *  - epoll_pwait2 validates the timespec before anything else: EINVAL.
 *  - A descriptor that is not an instance makes the ioctl fail ENOTTY;
 *    epoll says EINVAL there (after EBADF/EPERM for the target in ctl).
 *
 * Waits are cancellation points, as epoll_wait is in glibc: cancellation
 * is made asynchronous for the duration of the ioctl only. Creating an
 * instance is not one, as epoll_create1 is not: cancellation is disabled
 * around the open() (which is one).
 *
 * No state: every function is thread-safe and async-signal-safe except
 * through pthread_setcanceltype, which is itself async-cancel-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "xpoll_internal.h"

#define XPOLL_API __attribute__((visibility("default")))

/* Misc character devices share this major (include/uapi/linux/major.h). */
#define XPOLL_MISC_MAJOR 10

XPOLL_API int xpoll_create1(int flags)
{
	int fd, old;

	if (flags & ~XPOLL_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	/* open() is a cancellation point; epoll_create1() is not. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	fd = open(XPOLL_DEVICE, O_RDWR | flags);
	pthread_setcancelstate(old, NULL);
	return fd;
}

XPOLL_API int xpoll_create(int size)
{
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return xpoll_create1(0);
}

int xpoll__ctl(int xpfd, int op, int fd, struct epoll_event *event)
{
	struct xpoll_ctl c;

	memset(&c, 0, sizeof(c));
	c.op = (uint32_t)op;
	c.fd = fd;
	if (op != EPOLL_CTL_DEL) {
		if (!event) {
			errno = EFAULT;
			return -1;
		}
		c.events = event->events;
		c.data = event->data.u64;
	}
	return ioctl(xpfd, XPOLL_IOC_CTL, &c);
}

int xpoll__ctl_not_instance_errno(int fd)
{
	struct stat st;

	/* epoll_ctl looks at the target (EBADF, EPERM) before epfd's type. */
	if (fstat(fd, &st) < 0)
		return EBADF;
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		return EPERM;
	return EINVAL;
}

XPOLL_API int xpoll_ctl(int xpfd, int op, int fd, struct epoll_event *event)
{
	int ret = xpoll__ctl(xpfd, op, fd, event);

	if (ret < 0 && errno == ENOTTY)
		errno = xpoll__ctl_not_instance_errno(fd);
	return ret;
}

int64_t xpoll__ms_to_ns(int timeout_ms)
{
	if (timeout_ms < 0)
		return XPOLL_TIMEOUT_INFINITE;
	return (int64_t)timeout_ms * 1000000LL;
}

int64_t xpoll__ts_to_ns(const struct timespec *ts)
{
	/* volatile: time_t may be 32 bits, where the bound cannot be hit */
	volatile int64_t sec;

	if (!ts)
		return XPOLL_TIMEOUT_INFINITE;
	sec = ts->tv_sec;
	if (sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
		return -2;
	/* Past ~292 years: saturate, still a finite positive timeout. */
	if (sec >= INT64_MAX / 1000000000LL)
		return INT64_MAX;
	return sec * 1000000000LL + ts->tv_nsec;
}

/* XPOLL_IOC_WAIT, with a minimum count when min_events > 0. */
static int xpoll__wait_min_ns(int xpfd, struct epoll_event *events,
			      int maxevents, unsigned int min_events,
			      int64_t min_wait_ns, int64_t timeout_ns,
			      const sigset_t *sigmask)
{
	struct xpoll_wait w;
	int ret, saved, oldtype;

	memset(&w, 0, sizeof(w));
	w.events = (uint64_t)(uintptr_t)events;
	w.maxevents = maxevents;
	w.timeout_ns = timeout_ns;
	w.min_events = min_events;
	w.min_wait_ns = min_wait_ns;
	if (sigmask) {
		w.sigmask = (uint64_t)(uintptr_t)sigmask;
		w.sigsetsize = XPOLL_KERNEL_SIGSET_SIZE;
	}
	/*
	 * epoll_wait is a cancellation point: a blocked waiter must be
	 * cancellable. ioctl is not one, so allow asynchronous cancellation
	 * only while the thread sits in the ioctl (the kernel returns EINTR
	 * to deliver the cancel signal, and nothing here holds resources).
	 */
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
	ret = ioctl(xpfd, XPOLL_IOC_WAIT, &w);
	saved = errno;
	pthread_setcanceltype(oldtype, NULL);
	errno = saved;
	return ret;
}

int xpoll__wait_ns(int xpfd, struct epoll_event *events, int maxevents,
		   int64_t timeout_ns, const sigset_t *sigmask)
{
	if (maxevents <= 0 || maxevents > XPOLL_MAX_EVENTS) {
		errno = EINVAL;
		return -1;
	}
	return xpoll__wait_min_ns(xpfd, events, maxevents, 0, 0, timeout_ns,
				  sigmask);
}

static int xpoll_wait_common(int xpfd, struct epoll_event *events,
			     int maxevents, int64_t timeout_ns,
			     const sigset_t *sigmask)
{
	int ret = xpoll__wait_ns(xpfd, events, maxevents, timeout_ns, sigmask);

	if (ret < 0 && errno == ENOTTY)
		errno = EINVAL;
	return ret;
}

XPOLL_API int xpoll_wait(int xpfd, struct epoll_event *events, int maxevents,
			 int timeout)
{
	return xpoll_wait_common(xpfd, events, maxevents,
				 xpoll__ms_to_ns(timeout), NULL);
}

XPOLL_API int xpoll_pwait(int xpfd, struct epoll_event *events, int maxevents,
			  int timeout, const sigset_t *sigmask)
{
	return xpoll_wait_common(xpfd, events, maxevents,
				 xpoll__ms_to_ns(timeout), sigmask);
}

XPOLL_API int xpoll_pwait2(int xpfd, struct epoll_event *events,
			   int maxevents, const struct timespec *timeout,
			   const sigset_t *sigmask)
{
	int64_t ns = xpoll__ts_to_ns(timeout);

	if (ns == -2) {
		errno = EINVAL;
		return -1;
	}
	return xpoll_wait_common(xpfd, events, maxevents, ns, sigmask);
}

XPOLL_API int xpoll_version(int xpfd, uint32_t *abi_version,
			    uint64_t *features)
{
	struct xpoll_version v;

	memset(&v, 0, sizeof(v));
	if (ioctl(xpfd, XPOLL_IOC_VERSION, &v) < 0)
		return -1;
	if (abi_version)
		*abi_version = v.abi_version;
	if (features)
		*features = v.features;
	return 0;
}

XPOLL_API int xpoll_ctl_batch(int xpfd, const struct xpoll_ctl *ctls,
			      int32_t *results, unsigned int nr)
{
	struct xpoll_ctl_batch b;

	memset(&b, 0, sizeof(b));
	b.ctls = (uint64_t)(uintptr_t)ctls;
	b.results = (uint64_t)(uintptr_t)results;
	b.nr = nr;
	return ioctl(xpfd, XPOLL_IOC_CTL_BATCH, &b);
}

XPOLL_API int xpoll_ctl_wait(int xpfd, const struct xpoll_ctl *ctls,
			     int32_t *results, unsigned int nr,
			     unsigned int *nr_done, struct epoll_event *events,
			     int maxevents, int64_t timeout_ns,
			     const sigset_t *sigmask)
{
	struct xpoll_ctl_wait cw;
	int ret, saved, oldtype;

	memset(&cw, 0, sizeof(cw));
	cw.ctls = (uint64_t)(uintptr_t)ctls;
	cw.results = (uint64_t)(uintptr_t)results;
	cw.nr = nr;
	cw.wait.events = (uint64_t)(uintptr_t)events;
	cw.wait.maxevents = maxevents;
	cw.wait.timeout_ns = timeout_ns;
	if (sigmask) {
		cw.wait.sigmask = (uint64_t)(uintptr_t)sigmask;
		cw.wait.sigsetsize = XPOLL_KERNEL_SIGSET_SIZE;
	}
	/* A cancellation point, as xpoll__wait_ns() makes the wait one. */
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
	ret = ioctl(xpfd, XPOLL_IOC_CTL_WAIT, &cw);
	saved = errno;
	pthread_setcanceltype(oldtype, NULL);
	if (nr_done)
		*nr_done = cw.nr_done;
	errno = saved;
	return ret;
}

XPOLL_API int xpoll_user_ctl(int xpfd, int op, uint64_t key, uint32_t events,
			     uint64_t data)
{
	struct xpoll_ctl c;

	/* TRIGGER and CLEAR have functions of their own. */
	if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL) {
		errno = EINVAL;
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.op = (uint32_t)op;
	c.fd = -1;
	c.flags = XPOLL_CTL_USER;
	c.key = key;
	if (op != EPOLL_CTL_DEL) {
		c.events = events;
		c.data = data;
	}
	return ioctl(xpfd, XPOLL_IOC_CTL, &c);
}

static int xpoll_user_bits(int xpfd, uint32_t op, uint64_t key,
			   uint32_t events)
{
	struct xpoll_ctl c;

	memset(&c, 0, sizeof(c));
	c.op = op;
	c.fd = -1;
	c.flags = XPOLL_CTL_USER;
	c.key = key;
	c.events = events;
	return ioctl(xpfd, XPOLL_IOC_CTL, &c);
}

XPOLL_API int xpoll_user_trigger(int xpfd, uint64_t key, uint32_t events)
{
	return xpoll_user_bits(xpfd, XPOLL_CTL_TRIGGER, key, events);
}

XPOLL_API int xpoll_user_clear(int xpfd, uint64_t key, uint32_t events)
{
	return xpoll_user_bits(xpfd, XPOLL_CTL_CLEAR, key, events);
}

XPOLL_API int xpoll_wait_min(int xpfd, struct epoll_event *events,
			     int maxevents, unsigned int min_events,
			     int64_t min_wait_ns, int64_t timeout_ns,
			     const sigset_t *sigmask)
{
	if (!min_events) {
		errno = EINVAL;
		return -1;
	}
	return xpoll__wait_min_ns(xpfd, events, maxevents, min_events,
				  min_wait_ns, timeout_ns, sigmask);
}

XPOLL_API int xpoll_is_instance(int fd)
{
	struct stat st;
	uint32_t abi;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != XPOLL_MISC_MAJOR)
		return 0;
	/* Some misc device: only xpoll answers the version ioctl. */
	return xpoll_version(fd, &abi, NULL) == 0;
}

/*
 * The ready ring: the consumer's half of the protocol in
 * uapi/linux/xpoll.h.  Positions and indices come from memory the
 * process can write, so they are bounded before use: a bad value harvests
 * nothing wrong, it only skips.
 */
XPOLL_API int xpoll_ring_setup(int xpfd, unsigned int entries,
			       struct xpoll_ring *ring)
{
	struct xpoll_ring_setup rs;
	void *mem;

	memset(&rs, 0, sizeof(rs));
	rs.entries = entries;
	if (ioctl(xpfd, XPOLL_IOC_RING_SETUP, &rs) < 0)
		return -1;
	mem = mmap(NULL, rs.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   xpfd, 0);
	if (mem == MAP_FAILED)
		return -1;
	ring->xpfd = xpfd;
	ring->entries = entries;
	ring->hdr = mem;
	ring->slots = (struct xpoll_ring_slot *)((char *)mem + rs.slots_off);
	ring->ring = (uint32_t *)((char *)mem + rs.ring_off);
	ring->size = rs.mmap_size;
	return 0;
}

/* Takes slot @idx's ready bits; 1 if there were any, stored at @ev. */
static int xpoll_ring_take(struct xpoll_ring *ring, uint32_t idx,
			   struct epoll_event *ev)
{
	struct xpoll_ring_slot *s;
	uint32_t bits;

	if (idx >= ring->entries)
		return 0;
	s = &ring->slots[idx];
	bits = __atomic_exchange_n(&s->ready, 0, __ATOMIC_ACQ_REL);
	if (!bits)
		return 0;
	ev->events = bits;
	ev->data.u64 = __atomic_load_n(&s->data, __ATOMIC_RELAXED);
	return 1;
}

/*
 * The kernel asks for a re-poll of items whose wakeup had no bits
 * (hdr.repoll): a wait that does not sleep makes it post them.
 */
static void xpoll_ring_repoll(struct xpoll_ring *ring)
{
	struct xpoll_wait w;
	int saved = errno;

	memset(&w, 0, sizeof(w));
	w.maxevents = 1;
	ioctl(ring->xpfd, XPOLL_IOC_WAIT, &w);
	errno = saved;
}

XPOLL_API int xpoll_ring_harvest(struct xpoll_ring *ring,
				 struct epoll_event *events, int maxevents)
{
	struct xpoll_ring_hdr *h = ring->hdr;
	uint32_t mask = ring->entries - 1, head, tail, idx, i;
	int n = 0, overflow;

	if (__atomic_load_n(&h->repoll, __ATOMIC_ACQUIRE))
		xpoll_ring_repoll(ring);
	/* Taken before the ring: an index appended after it is seen. */
	overflow = __atomic_exchange_n(&h->overflow, 0, __ATOMIC_ACQ_REL);
	tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
	head = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
	while (n < maxevents) {
		/* Another thread's head may be past the tail read here. */
		if ((int32_t)(tail - head) <= 0) {
			tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
			if ((int32_t)(tail - head) <= 0)
				break;
		}
		idx = __atomic_load_n(&ring->ring[head & mask],
				      __ATOMIC_RELAXED);
		/*
		 * Claim the position before taking the slot: once head has
		 * moved on, the kernel may append the slot again, and its
		 * bits are then taken here or by that index's harvest.
		 */
		if (!__atomic_compare_exchange_n(&h->head, &head, head + 1,
						 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;	/* another thread took it; head reloaded */
		head++;
		n += xpoll_ring_take(ring, idx, &events[n]);
	}
	if (!overflow)
		return n;
	/* Overflow: the bits the ring could not index are in the slots. */
	for (i = 0; i < ring->entries; i++) {
		if (n == maxevents) {
			/* Not done: the next harvest scans again. */
			__atomic_store_n(&h->overflow, 1, __ATOMIC_RELEASE);
			break;
		}
		if (__atomic_load_n(&ring->slots[i].ready, __ATOMIC_RELAXED))
			n += xpoll_ring_take(ring, i, &events[n]);
	}
	return n;
}

XPOLL_API int xpoll_ring_wait(struct xpoll_ring *ring,
			      struct epoll_event *events, int maxevents,
			      int64_t timeout_ns, const sigset_t *sigmask)
{
	struct xpoll_wait w;
	int n, ret, saved, oldtype;

	if (maxevents <= 0 || maxevents > XPOLL_MAX_EVENTS) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		n = xpoll_ring_harvest(ring, events, maxevents);
		if (n || !timeout_ns)
			return n;
		/* The kernel stores nothing: it sleeps until an append. */
		memset(&w, 0, sizeof(w));
		w.maxevents = 1;
		w.timeout_ns = timeout_ns;
		if (sigmask) {
			w.sigmask = (uint64_t)(uintptr_t)sigmask;
			w.sigsetsize = XPOLL_KERNEL_SIGSET_SIZE;
		}
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
		ret = ioctl(ring->xpfd, XPOLL_IOC_WAIT, &w);
		saved = errno;
		pthread_setcanceltype(oldtype, NULL);
		errno = saved;
		if (ret <= 0)
			return ret;
		/*
		 * Another thread may harvest first: then wait again, for the
		 * whole timeout, as epoll_wait() after a stolen wakeup.
		 */
	}
}

XPOLL_API int xpoll_ring_unmap(struct xpoll_ring *ring)
{
	int ret = munmap(ring->hdr, ring->size);

	ring->hdr = NULL;
	return ret;
}
