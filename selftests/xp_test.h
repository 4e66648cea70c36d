/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common helpers of the xpoll kselftests.
 *
 * Every behaviour test runs the same scenario on two backends, epoll and
 * xpoll (a FIXTURE_VARIANT per backend), and asserts the result epoll(7)
 * documents; where a result cannot be written down in advance the test
 * runs the scenario on both in one process and asserts equality.  The
 * backend-neutral calls below return -errno instead of setting errno so
 * that an epoll result and an xpoll result compare with one ASSERT_EQ.
 *
 * kselftest_harness.h of Linux 6.1 has no -t/-f filters, so XP_MAIN
 * brings its own (see selftests/README.md).
 */
#ifndef XP_TEST_H
#define XP_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/time_types.h>
#include <linux/userfaultfd.h>
#include <linux/xpoll.h>

/*
 * The 6.1 harness has unused parameters (-Wextra; also in what TEST()
 * expands to), and its EXPECT_EQ() compares a literal with values of any
 * type: silence those two, keep -Werror for the rest.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"

enum { BE_EPOLL = 0, BE_XPOLL = 1 };
static const char *const be_name[] __attribute__((unused)) = { "epoll", "xpoll" };

/*
 * A skip that also works from a FIXTURE_SETUP: the 6.1 harness runs the
 * test body after a SKIP() in setup, so end the test child here; the
 * reason already sits in the harness's shared results page.
 */
#define XP_SKIP(fmt, ...) \
	SKIP({ fflush(NULL); _exit(255); }, fmt, ##__VA_ARGS__)

/*
 * XP_EMULATE=1 in the environment makes the xpoll backend an epoll: for
 * checking a test's own logic on a host without the module (raw xpoll
 * calls still fail there).  Never set in the guest.
 */
static inline bool xp_emulate(void)
{
	static int e = -1;

	if (e < 0)
		e = getenv("XP_EMULATE") != NULL;
	return e;
}

static inline bool xp_present(void)
{
	return xp_emulate() || access(XPOLL_DEVICE, F_OK) == 0;
}

/* Skip the xpoll half of a test when the module is not loaded. */
#define XP_REQUIRE(be) do { \
	if ((be) == BE_XPOLL && !xp_present()) \
		XP_SKIP("%s: %s missing (module not loaded)", \
			_metadata->name, XPOLL_DEVICE); \
} while (0)

static inline int xp_open(int flags)
{
	return open(XPOLL_DEVICE, O_RDWR | flags);
}

/* Raw xpoll calls: -1 and errno, like the syscalls. */
static inline int xp_ctl_raw(int xfd, int op, int fd, uint32_t events,
			     uint64_t data)
{
	struct xpoll_ctl c = {
		.op = (uint32_t)op, .fd = fd, .events = events, .data = data,
	};

	return ioctl(xfd, XPOLL_IOC_CTL, &c);
}

static inline int xp_wait_raw(int xfd, struct epoll_event *ev, int max,
			      int64_t timeout_ns, const sigset_t *mask)
{
	struct xpoll_wait w = {
		.events = (uintptr_t)ev, .maxevents = max,
		.timeout_ns = timeout_ns, .sigmask = (uintptr_t)mask,
		.sigsetsize = mask ? 8 : 0,
	};

	return ioctl(xfd, XPOLL_IOC_WAIT, &w);
}

/* Backend-neutral calls: result or -errno. */
static inline int pl_create(int be, int cloexec)
{
	int fd = (be == BE_EPOLL || xp_emulate()) ? epoll_create1(cloexec ? EPOLL_CLOEXEC : 0)
				: xp_open(cloexec ? O_CLOEXEC : 0);

	return fd < 0 ? -errno : fd;
}

static inline int pl_ctl(int be, int pfd, int op, int fd, uint32_t events,
			 uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };
	int r = (be == BE_EPOLL || xp_emulate()) ? epoll_ctl(pfd, op, fd, &e)
			       : xp_ctl_raw(pfd, op, fd, events, data);

	return r < 0 ? -errno : r;
}

/* timeout_ns < 0 blocks, 0 returns at once; as epoll_pwait2(2). */
static inline int pl_wait(int be, int pfd, struct epoll_event *ev, int max,
			  int64_t timeout_ns, const sigset_t *mask)
{
	int r;

	if (be == BE_EPOLL || xp_emulate()) {
		/* the syscall takes a __kernel_timespec (64-bit time) also
		 * from 32-bit programs, unlike glibc's struct timespec there */
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ns / 1000000000,
			.tv_nsec = timeout_ns % 1000000000,
		};

		r = syscall(SYS_epoll_pwait2, pfd, ev, max,
			    timeout_ns < 0 ? NULL : &ts, mask, 8);
	} else {
		r = xp_wait_raw(pfd, ev, max, timeout_ns, mask);
	}
	return r < 0 ? -errno : r;
}

/* One wait with timeout 0; returns the count, events in ev (max 64). */
static inline int pl_poll0(int be, int pfd, struct epoll_event *ev)
{
	return pl_wait(be, pfd, ev, 64, 0, NULL);
}

/* A number from a sysctl or sysfs file, or -1. */
static inline long read_long(const char *path)
{
	char b[64] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 ? atol(b) : -1;
}

/* Writes @v to a sysctl, sysfs or cgroup file: 0 or -1. */
static inline int write_str(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = write(fd, v, strlen(v)) == (ssize_t)strlen(v) ? 0 : -1;
	close(fd);
	return r;
}

static inline int write_long(const char *path, long v)
{
	char b[32];

	snprintf(b, sizeof(b), "%ld\n", v);
	return write_str(path, b);
}

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Become an unprivileged user (a fork child's first step): no
 * supplementary groups, then gid, then uid.  0, or -errno.
 */
#define XP_NOBODY 65534
static inline int xp_drop_privs(uid_t uid)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
		return -errno;
	return 0;
}

/* Sort events by data then events so that two waits compare as sets. */
static inline int ev_cmp(const void *a, const void *b)
{
	const struct epoll_event *x = a, *y = b;

	if (x->data.u64 != y->data.u64)
		return x->data.u64 < y->data.u64 ? -1 : 1;
	if (x->events != y->events)
		return x->events < y->events ? -1 : 1;
	return 0;
}

static inline void ev_sort(struct epoll_event *ev, int n)
{
	if (n > 1)
		qsort(ev, n, sizeof(*ev), ev_cmp);
}

/* Events reported for data d in ev[0..n), or -1 if d is absent. */
static inline int64_t ev_find(const struct epoll_event *ev, int n, uint64_t d)
{
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == d)
			return ev[i].events;
	return -1;
}

/* Is task tid of this process asleep (state S/D)?  Used to know that a
 * thread really blocked in a wait before the test makes an event. */
static inline bool task_sleeping(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && (p[2] == 'S' || p[2] == 'D');
}

/* Wait up to ms for task tid to sleep; then a little more for the
 * sleep to be the wait and not a page fault on the way there. */
static inline bool wait_sleeping(pid_t tid, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (task_sleeping(tid)) {
			msleep(20);
			if (task_sleeping(tid))
				return true;
		}
		msleep(1);
	}
	return false;
}

static inline pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/*
 * A page whose first touch stalls the toucher (a userfaultfd in MISSING
 * mode) until uffd_page_release(): how a test holds an instance's mutex
 * from userspace, for as long as it likes, with a wait that stores its
 * event there (stalled_wait_fn in a thread; epoll and xpoll both copy
 * events out under the instance's mutex).
 */
struct uffd_page {
	int fd;
	char *page;
	long len;
};

/* 0, or -errno if the kernel gives no userfaultfd (the test SKIPs). */
static inline int uffd_page_open(struct uffd_page *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };

	u->page = MAP_FAILED;
	u->len = sysconf(_SC_PAGESIZE);
	u->fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0)
		return -errno;
	u->page = mmap(NULL, u->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->page == MAP_FAILED || ioctl(u->fd, UFFDIO_API, &api))
		return -errno;
	reg.range.start = (uintptr_t)u->page;
	reg.range.len = u->len;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	return ioctl(u->fd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

/* Has someone touched the page (and stalled there) within @ms? */
static inline bool uffd_page_faulted(struct uffd_page *u, int ms)
{
	struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
	struct uffd_msg msg;

	return poll(&pfd, 1, ms) == 1 &&
	       read(u->fd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* Maps a zero page there: the stalled toucher goes on. */
static inline int uffd_page_release(struct uffd_page *u)
{
	struct uffdio_zeropage zp = { 0 };

	zp.range.start = (uintptr_t)u->page;
	zp.range.len = u->len;
	return ioctl(u->fd, UFFDIO_ZEROPAGE, &zp);
}

static inline void uffd_page_close(struct uffd_page *u)
{
	munmap(u->page, u->len);
	close(u->fd);
}

/* One blocking wait of one event, run in a thread. */
struct stalled_wait {
	int be, p;
	struct epoll_event *ev;
	int ret;
	pid_t tid;	/* the thread's, once it runs */
};

static inline void *stalled_wait_fn(void *arg)
{
	struct stalled_wait *sw = arg;

	__atomic_store_n(&sw->tid, gettid_(), __ATOMIC_RELEASE);
	sw->ret = pl_wait(sw->be, sw->p, sw->ev, 1, -1, NULL);
	return NULL;
}

/* Wait up to @ms for the thread of @sw to block (in its wait). */
static inline bool stalled_wait_sleeping(struct stalled_wait *sw, int ms)
{
	pid_t tid;

	for (int i = 0; i < ms; i++) {
		tid = __atomic_load_n(&sw->tid, __ATOMIC_ACQUIRE);
		if (tid)
			return wait_sleeping(tid, ms);
		msleep(1);
	}
	return false;
}

/* Count the "tfd:" lines of /proc/self/fdinfo/<fd>: items of an instance. */
static inline int fdinfo_items(int pfd)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pfd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "tfd:", 4))
			n++;
	fclose(f);
	return n;
}

/* A connected TCP pair over loopback (c: connected side, a: accepted). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
static inline int tcp_listener(struct sockaddr_in *sa, int backlog)
{
	socklen_t len = sizeof(*sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (l < 0)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)sa, sizeof(*sa)) || listen(l, backlog) ||
	    getsockname(l, (struct sockaddr *)sa, &len)) {
		close(l);
		return -1;
	}
	return l;
}

static inline int tcp_pair(int sv[2])
{
	struct sockaddr_in sa;
	int l = tcp_listener(&sa, 4), one = 1;

	if (l < 0)
		return -1;
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&sa, sizeof(sa))) {
		close(l);
		return -1;
	}
	sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (sv[1] < 0)
		return -1;
	setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static inline void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Wait on an instance for up to ms; the first event's mask for data d,
 * or -1 if it did not come. */
static inline int64_t pl_wait_for(int be, int pfd, uint64_t d, int ms)
{
	struct epoll_event ev[64];
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	do {
		int n = pl_wait(be, pfd, ev, 64, 10 * 1000000LL, NULL);
		int64_t m = n > 0 ? ev_find(ev, n, d) : -1;

		if (m >= 0)
			return m;
	} while (now_ns() < end);
	return -1;
}

/* One item of /proc/self/fdinfo/<pfd>, as epoll prints it. */
struct fdinfo_item {
	int tfd;
	unsigned int events;
	unsigned long long data, pos, ino;
	unsigned int sdev;
};

/* Parse the items of an instance; returns their number or -errno. */
static inline int fdinfo_parse(int pfd, struct fdinfo_item *it, int max)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pfd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct fdinfo_item x;

		/* zero the padding too: callers memcmp() items */
		memset(&x, 0, sizeof(x));
		if (strncmp(line, "tfd:", 4))
			continue;
		if (sscanf(line, "tfd: %d events: %x data: %llx pos:%llu ino:%llx sdev:%x",
			   &x.tfd, &x.events, &x.data, &x.pos, &x.ino,
			   &x.sdev) != 6) {
			fclose(f);
			return -EPROTO;
		}
		if (n < max)
			it[n] = x;
		n++;
	}
	fclose(f);
	return n;
}

/*
 * Our own main: the 6.1 harness ignores argv, so filter its lists here.
 *   -l             list fixture.variant.test names and exit
 *   -f FIXTURE     run only tests of this fixture (repeatable)
 *   -v VARIANT     run only this variant, e.g. epoll or xpoll (repeatable)
 *   -t TEST        run only tests with this name, or fixture.test,
 *                  or fixture.variant.test (repeatable)
 * xp_main_hook, if a test file defines XP_MAIN_HOOK, runs first (the
 * exec helper of the CLOEXEC test).
 */
#define XP_MAXSEL 32
struct xp_sel { const char *f[XP_MAXSEL], *v[XP_MAXSEL], *t[XP_MAXSEL];
		int nf, nv, nt; };

static inline bool xp_in(const char *const *l, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(l[i], s))
			return true;
	return false;
}

static inline bool xp_test_match(const struct xp_sel *s, const char *f,
				 const char *v, const char *t)
{
	char a[256], b[256];

	if (s->nf && !xp_in(s->f, s->nf, f))
		return false;
	if (s->nv && !xp_in(s->v, s->nv, v))
		return false;
	if (!s->nt)
		return true;
	snprintf(a, sizeof(a), "%s.%s", f, t);
	snprintf(b, sizeof(b), "%s.%s.%s", f, v, t);
	return xp_in(s->t, s->nt, t) || xp_in(s->t, s->nt, a) ||
	       xp_in(s->t, s->nt, b);
}

/*
 * Filtering works per (fixture, test) across variants: a test is kept if
 * it matches with any kept variant, and variants not selected by -v are
 * unlinked.  A fixture left with no test keeps no variant and runs nothing.
 */
static inline void xp_filter(const struct xp_sel *s, bool list)
{
	struct __fixture_metadata *f;

	for (f = __fixture_list; f; f = f->next) {
		struct __fixture_variant_metadata none = { .name = "" };
		struct __fixture_variant_metadata *v, *vh = NULL, *vt = NULL;
		struct __test_metadata *t, *next, *th = NULL, *tt = NULL;

		for (v = f->variant; v; v = v->next) {
			if (s->nv && !xp_in(s->v, s->nv, v->name))
				continue;
			if (!vh)
				vh = v;
			else
				vt->next = v;
			vt = v;
		}
		if (f->variant && !vh) {
			f->tests = NULL;
			continue;
		}
		if (vt) {
			vt->next = NULL;
			vh->prev = vt;
		}
		f->variant = vh;
		for (t = f->tests; t; t = next) {
			bool keep = false;

			next = t->next;
			for (v = f->variant ?: &none; v; v = v->next) {
				if (!xp_test_match(s, f->name, v->name, t->name))
					continue;
				keep = true;
				if (list)
					printf("%s%s%s.%s\n", f->name,
					       v->name[0] ? "." : "", v->name,
					       t->name);
			}
			if (!keep)
				continue;
			if (!th)
				th = t;
			else
				tt->next = t;
			tt = t;
		}
		if (tt) {
			tt->next = NULL;
			th->prev = tt;
		}
		f->tests = th;
	}
}

static int xp_main_hook(int argc, char **argv);

#define XP_MAIN \
	static void __attribute__((constructor)) \
	__constructor_order_last(void) \
	{ \
		if (!__constructor_order) \
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	} \
	int main(int argc, char **argv) \
	{ \
		struct xp_sel s = { .nf = 0 }; \
		bool list = false; \
		int c, r; \
		r = xp_main_hook(argc, argv); \
		if (r >= 0) \
			return r; \
		while ((c = getopt(argc, argv, "lf:v:t:")) != -1) { \
			switch (c) { \
			case 'l': list = true; break; \
			case 'f': if (s.nf < XP_MAXSEL) s.f[s.nf++] = optarg; break; \
			case 'v': if (s.nv < XP_MAXSEL) s.v[s.nv++] = optarg; break; \
			case 't': if (s.nt < XP_MAXSEL) s.t[s.nt++] = optarg; break; \
			default: \
				fprintf(stderr, "usage: %s [-l] [-f fixture] " \
					"[-v variant] [-t test]...\n", argv[0]); \
				return 2; \
			} \
		} \
		xp_filter(&s, list); \
		if (list) \
			return 0; \
		return test_harness_run(argc, argv); \
	}

/* Files without an exec helper say so with this. */
#define XP_NO_HOOK \
	static int xp_main_hook(int argc, char **argv) \
	{ (void)argc; (void)argv; return -1; }

/* The standard backend variants. */
#define XP_BACKENDS(fx) \
	FIXTURE_VARIANT(fx) { int be; }; \
	FIXTURE_VARIANT_ADD(fx, epoll) { .be = BE_EPOLL }; \
	FIXTURE_VARIANT_ADD(fx, xpoll) { .be = BE_XPOLL }

#endif /* XP_TEST_H */
