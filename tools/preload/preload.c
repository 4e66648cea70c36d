// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libxpoll-preload.so: LD_PRELOAD=.../libxpoll-preload.so makes an unmodified,
 * dynamically linked epoll program use xpoll instances.
 *
 * It defines epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait
 * and epoll_pwait2 (and, in 32-bit builds, glibc's __epoll_pwait2_time64,
 * which 32-bit programs built with _TIME_BITS=64 call); the dynamic linker
 * binds the program's (and its libraries') calls to these instead of
 * glibc's. The real functions are found with dlsym(RTLD_NEXT) for the
 * fallback path.
 *
 * Which descriptors are xpoll instances. Checking every call with fstat()
 * would double the system calls of an event loop, so the library keeps a
 * hint and lets the kernel correct it:
 *  - a bitmap indexed by fd has the bit set for every instance this library
 *    opened in epoll_create*, and cleared when epoll_create* returns a real
 *    epoll fd at that number;
 *  - a set bit is trusted: the call goes to the xpoll ioctl. If the fd has
 *    been closed and reused by something that is not an instance, the ioctl
 *    fails ENOTTY (other files do not implement these commands; an epoll
 *    file on Linux 6.9 and later says EINVAL, so an EINVAL is checked with
 *    fstat + version ioctl), the bit is cleared and the real epoll function
 *    is called;
 *  - a clear bit sends the call to the real epoll function. If the fd is an
 *    instance this library did not see created (dup/dup2/dup3/F_DUPFD,
 *    inherited across exec, received over a UNIX socket), epoll fails EINVAL
 *    without side effects because the file is not an epoll file; only then
 *    is the fd checked (fstat + version ioctl), the bit set and the call
 *    redone on xpoll.
 * So the fast path costs no extra system call, a stale hint costs one failed
 * call, and the answer never depends on the hint being right. The bitmap is
 * plain memory, so fork() copies it (the child's fds are the parent's) and
 * exec() starts afresh (inherited instances are found by the EINVAL rule).
 * Races: bits are changed with atomic read-modify-write operations; a
 * chunk of the bitmap is allocated with mmap on first use and published
 * with a compare-and-swap (never freed). A thread that reuses an fd number
 * while another still waits on it is a bug in the program under epoll too.
 *
 * Events: the program's struct epoll_event array is handed to the kernel by
 * its address (the uapi uses epoll's own layout), never copied.
 *
 * Close without EPOLL_CTL_DEL: the module removes the item once every
 * descriptor of the target is closed, as epoll does; nothing to do here.
 *
 * Environment, read once when the library is loaded:
 *   XPOLL_PRELOAD_REQUIRE=1  /dev/xpoll must work: if it cannot be opened,
 *                            epoll_create* prints why on stderr and fails
 *                            with open()'s errno, no fallback.
 *   XPOLL_PRELOAD_DEBUG=1    say once on stderr which way the process went
 *                            (xpoll, or the fallback to the kernel's epoll).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../lib/xpoll_internal.h"

#define XP_EXPORT __attribute__((visibility("default")))

typedef int (*create_fn)(int);
typedef int (*ctl_fn)(int, int, int, struct epoll_event *);
typedef int (*wait_fn)(int, struct epoll_event *, int, int);
typedef int (*pwait_fn)(int, struct epoll_event *, int, int,
			const sigset_t *);
typedef int (*pwait2_fn)(int, struct epoll_event *, int,
			 const struct timespec *, const sigset_t *);

/*
 * A 32-bit program built with _TIME_BITS=64 calls epoll_pwait2 as glibc's
 * __epoll_pwait2_time64 (glibc >= 2.35), with glibc's struct __timespec64:
 * a 64-bit tv_sec, then a 32-bit tv_nsec and padding (little-endian).
 */
#if defined(__TIMESIZE) && __TIMESIZE == 32
#define XP_TIME64_ENTRY 1
struct xp_timespec64 {
	int64_t tv_sec;
	int32_t tv_nsec;
	int32_t pad;
};
typedef int (*pwait2_64_fn)(int, struct epoll_event *, int,
			    const struct xp_timespec64 *, const sigset_t *);
#endif

static struct {
	create_fn create;
	create_fn create1;
	ctl_fn ctl;
	wait_fn wait;
	pwait_fn pwait;
	pwait2_fn pwait2;
#ifdef XP_TIME64_ENTRY
	pwait2_64_fn pwait2_64;
#endif
} real;

static int opt_require, opt_debug;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static atomic_int said_xpoll, said_fallback;

static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	/* write(2), not stdio: no lock, safe in a child after fork(). */
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

static void init(void)
{
	real.create = (create_fn)dlsym(RTLD_NEXT, "epoll_create");
	real.create1 = (create_fn)dlsym(RTLD_NEXT, "epoll_create1");
	real.ctl = (ctl_fn)dlsym(RTLD_NEXT, "epoll_ctl");
	real.wait = (wait_fn)dlsym(RTLD_NEXT, "epoll_wait");
	real.pwait = (pwait_fn)dlsym(RTLD_NEXT, "epoll_pwait");
	/* glibc >= 2.35 only; without it the fallback says ENOSYS. */
	real.pwait2 = (pwait2_fn)dlsym(RTLD_NEXT, "epoll_pwait2");
#ifdef XP_TIME64_ENTRY
	real.pwait2_64 = (pwait2_64_fn)dlsym(RTLD_NEXT, "__epoll_pwait2_time64");
#endif
	opt_require = env_on("XPOLL_PRELOAD_REQUIRE");
	opt_debug = env_on("XPOLL_PRELOAD_DEBUG");
}

/* Runs before main, so before the program can start threads or fork. */
__attribute__((constructor)) static void preload_ctor(void)
{
	pthread_once(&init_once, init);
}

static inline void ensure_init(void)
{
	pthread_once(&init_once, init);
}

/* ---- fd hint bitmap (see the top comment) ---- */

#define CHUNK_BITS	(1u << 16)	/* fds per chunk: 8 KiB of bits */
#define NCHUNKS		4096u		/* covers fds below 2^28 */
#define WORD_BITS	(8 * sizeof(unsigned long))

static _Atomic(atomic_ulong *) chunks[NCHUNKS];

static atomic_ulong *chunk_of(int fd, int create)
{
	unsigned int ci = (unsigned int)fd / CHUNK_BITS;
	atomic_ulong *c, *expected = NULL;

	if (fd < 0 || ci >= NCHUNKS)
		return NULL;
	c = atomic_load_explicit(&chunks[ci], memory_order_acquire);
	if (c || !create)
		return c;
	/* mmap, not malloc: usable from any context the program calls us in. */
	c = mmap(NULL, CHUNK_BITS / 8, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(&chunks[ci], &expected, c,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		munmap(c, CHUNK_BITS / 8);
		c = expected;
	}
	return c;
}

static inline unsigned long bit_of(int fd)
{
	return 1UL << (((unsigned int)fd % CHUNK_BITS) % WORD_BITS);
}

static inline unsigned int word_of(int fd)
{
	return ((unsigned int)fd % CHUNK_BITS) / WORD_BITS;
}

static void mark(int fd)
{
	atomic_ulong *c = chunk_of(fd, 1);

	/* No memory for the hint: the EINVAL rule still finds the instance. */
	if (c)
		atomic_fetch_or_explicit(&c[word_of(fd)], bit_of(fd),
					 memory_order_relaxed);
}

static void unmark(int fd)
{
	atomic_ulong *c = chunk_of(fd, 0);

	if (c)
		atomic_fetch_and_explicit(&c[word_of(fd)], ~bit_of(fd),
					  memory_order_relaxed);
}

static inline int marked(int fd)
{
	atomic_ulong *c = chunk_of(fd, 0);

	return c && (atomic_load_explicit(&c[word_of(fd)],
					  memory_order_relaxed) & bit_of(fd));
}

/* After epoll said EINVAL: was fd an instance we had not seen created? */
static int adopt_if_instance(int fd, int saved_errno)
{
	if (xpoll_is_instance(fd) == 1) {
		mark(fd);
		return 1;
	}
	errno = saved_errno;
	return 0;
}

/*
 * An xpoll call on a marked fd failed: does the number now name another
 * file (so the mark is stale)?  Other files answer our commands ENOTTY,
 * but an epoll file on Linux 6.9 and later has an ioctl of its own that
 * answers EINVAL, which xpoll also gives for bad arguments: that one is
 * checked, on this error path only.  errno is kept when the mark holds.
 */
static int stale_mark(int fd)
{
	int err = errno;

	if (err == ENOTTY || (err == EINVAL && xpoll_is_instance(fd) == 0))
		return 1;
	errno = err;
	return 0;
}

/* ---- the interposed functions ---- */

static int create_instance(int flags, int size, int legacy)
{
	int fd, err;

	ensure_init();
	if (flags & ~EPOLL_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	fd = xpoll_create1(flags);
	if (fd >= 0) {
		mark(fd);
		if (opt_debug && !atomic_exchange(&said_xpoll, 1))
			say("xpoll-preload[%d]: epoll instances are xpoll instances (%s)\n",
			    (int)getpid(), XPOLL_DEVICE);
		return fd;
	}
	err = errno;
	/* Out of descriptors or memory: epoll would fail the same way. */
	if (err == EMFILE || err == ENFILE || err == ENOMEM)
		return -1;
	if (opt_require) {
		say("xpoll-preload[%d]: cannot open %s: %s; XPOLL_PRELOAD_REQUIRE=1, so epoll_create fails\n",
		    (int)getpid(), XPOLL_DEVICE, strerror(err));
		errno = err;
		return -1;
	}
	if (opt_debug && !atomic_exchange(&said_fallback, 1))
		say("xpoll-preload[%d]: cannot open %s (%s): falling back to the kernel's epoll\n",
		    (int)getpid(), XPOLL_DEVICE, strerror(err));
	if (legacy && real.create)
		fd = real.create(size);
	else if (real.create1)
		fd = real.create1(flags);
	else {
		errno = ENOSYS;
		return -1;
	}
	if (fd >= 0)
		unmark(fd);
	return fd;
}

/*
 * epoll_create1() is not a cancellation point, but open() and write()
 * (the notices) are: cancellation is held off for the whole call.
 */
static int create_common(int flags, int size, int legacy)
{
	int fd, old, err;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	fd = create_instance(flags, size, legacy);
	err = errno;
	pthread_setcancelstate(old, NULL);
	errno = err;
	return fd;
}

XP_EXPORT int epoll_create1(int flags)
{
	return create_common(flags, 1, 0);
}

XP_EXPORT int epoll_create(int size)
{
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return create_common(0, size, 1);
}

static int ctl_on_xpoll(int epfd, int op, int fd, struct epoll_event *event)
{
	int ret = xpoll__ctl(epfd, op, fd, event);

	if (ret < 0 && errno == ENOTTY)
		errno = xpoll__ctl_not_instance_errno(fd);
	return ret;
}

XP_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	int ret;

	ensure_init();
	if (marked(epfd)) {
		ret = xpoll__ctl(epfd, op, fd, event);
		if (ret == 0 || !stale_mark(epfd))
			return ret;
		unmark(epfd);	/* the number now names another file */
	}
	if (!real.ctl) {
		errno = ENOSYS;
		return -1;
	}
	ret = real.ctl(epfd, op, fd, event);
	if (ret < 0 && errno == EINVAL && adopt_if_instance(epfd, EINVAL))
		return ctl_on_xpoll(epfd, op, fd, event);
	return ret;
}

/*
 * The three waits share one shape: the hint picks xpoll or epoll, ENOTTY
 * from xpoll or EINVAL from epoll corrects it. timeout_ns < -1 means the
 * timespec was invalid (EINVAL from either side).
 */
static int wait_on_xpoll(int epfd, struct epoll_event *events, int maxevents,
			 int64_t ns, const sigset_t *sigmask)
{
	int ret;

	if (ns < -1) {
		errno = EINVAL;
		return -1;
	}
	ret = xpoll__wait_ns(epfd, events, maxevents, ns, sigmask);
	if (ret < 0 && errno == ENOTTY)
		errno = EINVAL;
	return ret;
}

enum wait_kind { W_WAIT, W_PWAIT, W_PWAIT2, W_PWAIT2_TIME64 };

/*
 * @ns is the timeout for xpoll; @timeout (ms) or @ts (the caller's own
 * timespec, of the kind's type) go to the real function as they came.
 */
static int wait_common(enum wait_kind kind, int epfd,
		       struct epoll_event *events, int maxevents, int timeout,
		       const void *ts, int64_t ns, const sigset_t *sigmask)
{
	int ret;

	ensure_init();
	if (marked(epfd)) {
		if (ns < -1) {
			errno = EINVAL;
			return -1;
		}
		ret = xpoll__wait_ns(epfd, events, maxevents, ns, sigmask);
		if (ret >= 0 || !stale_mark(epfd))
			return ret;
		unmark(epfd);
	}
	switch (kind) {
	case W_WAIT:
		ret = real.wait ? real.wait(epfd, events, maxevents, timeout)
				: (errno = ENOSYS, -1);
		break;
	case W_PWAIT:
		ret = real.pwait ? real.pwait(epfd, events, maxevents, timeout,
					      sigmask)
				 : (errno = ENOSYS, -1);
		break;
	case W_PWAIT2:
		ret = real.pwait2 ? real.pwait2(epfd, events, maxevents, ts,
						sigmask)
				  : (errno = ENOSYS, -1);
		break;
	default:
#ifdef XP_TIME64_ENTRY
		ret = real.pwait2_64 ? real.pwait2_64(epfd, events, maxevents,
						      ts, sigmask)
				     : (errno = ENOSYS, -1);
#else
		ret = (errno = ENOSYS, -1);
#endif
		break;
	}
	if (ret < 0 && errno == EINVAL && adopt_if_instance(epfd, EINVAL))
		return wait_on_xpoll(epfd, events, maxevents, ns, sigmask);
	return ret;
}

XP_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents,
			 int timeout)
{
	return wait_common(W_WAIT, epfd, events, maxevents, timeout, NULL,
			   xpoll__ms_to_ns(timeout), NULL);
}

XP_EXPORT int epoll_pwait(int epfd, struct epoll_event *events,
			  int maxevents, int timeout, const sigset_t *sigmask)
{
	return wait_common(W_PWAIT, epfd, events, maxevents, timeout, NULL,
			   xpoll__ms_to_ns(timeout), sigmask);
}

XP_EXPORT int epoll_pwait2(int epfd, struct epoll_event *events,
			   int maxevents, const struct timespec *timeout,
			   const sigset_t *sigmask)
{
	return wait_common(W_PWAIT2, epfd, events, maxevents, 0, timeout,
			   xpoll__ts_to_ns(timeout), sigmask);
}

#ifdef XP_TIME64_ENTRY
/* As xpoll__ts_to_ns(), for glibc's 64-bit timespec. */
static int64_t ts64_to_ns(const struct xp_timespec64 *ts)
{
	if (!ts)
		return XPOLL_TIMEOUT_INFINITE;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
		return -2;
	if (ts->tv_sec >= INT64_MAX / 1000000000LL)
		return INT64_MAX;
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

XP_EXPORT int __epoll_pwait2_time64(int epfd, struct epoll_event *events,
				    int maxevents,
				    const struct xp_timespec64 *timeout,
				    const sigset_t *sigmask)
{
	return wait_common(W_PWAIT2_TIME64, epfd, events, maxevents, 0,
			   timeout, ts64_to_ns(timeout), sigmask);
}
#endif
