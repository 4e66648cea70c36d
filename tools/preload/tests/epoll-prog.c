// SPDX-License-Identifier: GPL-2.0
/*
 * epoll-prog: an ordinary epoll program, knowing nothing of xpoll, used to
 * test the LD_PRELOAD library. It checks epoll's semantics through the
 * glibc wrappers and says which kind of instance it was given:
 *   backend: xpoll   (the /proc/self/fd link of the instance is /dev/xpoll)
 *   backend: epoll   (anon_inode:[eventpoll])
 * Covered: every interposed function, LT/ET, pwait's sigmask, pwait2's
 * timespec (also through glibc's time64 entry when built 32-bit with
 * _TIME_BITS=64: epoll-prog32t), errno cases, epoll_create1 not a
 * cancellation point, threads (each with its own instance, plus several
 * threads on one instance), fork (child uses the inherited instance), dup2
 * to a number the preload never saw, exec with an inherited instance, and
 * close-without-DEL. Prints TAP lines and "N passed, N failed"; exit 0 only
 * if everything held.
 *
 * Usage: epoll-prog            run all
 *        epoll-prog --exec-child FD   (internal: the exec'ed side)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int npass, nfail;

#define CHECK(cond, ...)                                                \
	do {                                                            \
		int ok_ = !!(cond), err_ = errno;                       \
		if (ok_)                                                \
			npass++;                                        \
		else                                                    \
			nfail++;                                        \
		printf("%sok %d - ", ok_ ? "" : "not ", npass + nfail); \
		printf(__VA_ARGS__);                                    \
		if (!ok_)                                               \
			printf(" (errno %d %s)", err_, strerror(err_)); \
		printf("\n");                                           \
		fflush(stdout);                                         \
	} while (0)

static const char *kind_of(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return "?";
	buf[n] = 0;
	if (strcmp(buf, "/dev/xpoll") == 0)
		return "xpoll";
	if (strstr(buf, "eventpoll"))
		return "epoll";
	return buf;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The epoll(7) pipe scenario on instance ep; returns 1 if it held. */
static int pipe_scenario(int ep, int et)
{
	struct epoll_event ev = { .events = EPOLLIN | (et ? EPOLLET : 0),
				  .data.u64 = 0xfeedbeefcafeULL };
	struct epoll_event got[2];
	char buf[2048];
	int p[2], ok = 1, n;

	if (pipe2(p, O_NONBLOCK) < 0)
		return 0;
	memset(buf, 'a', sizeof(buf));
	ok &= epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0;
	ok &= write(p[1], buf, 2048) == 2048;
	n = epoll_wait(ep, got, 2, 0);
	ok &= n == 1 && got[0].events == EPOLLIN &&
	      got[0].data.u64 == 0xfeedbeefcafeULL;
	ok &= read(p[0], buf, 1024) == 1024;
	n = epoll_wait(ep, got, 2, 0);
	ok &= n == (et ? 0 : 1);
	ok &= epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0;
	close(p[0]);
	close(p[1]);
	return ok;
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

struct thr {
	int ok, rounds;
	int shared_ep, efd;
};

/* Own instance per thread: eventfd ping, many rounds. */
static void *thread_own(void *arg)
{
	struct thr *t = arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int efd = eventfd(0, EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = efd };
	uint64_t v = 1;

	t->ok = ep >= 0 && efd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0;
	for (int i = 0; t->ok && i < t->rounds; i++) {
		struct epoll_event got;

		t->ok &= write(efd, &v, 8) == 8;
		t->ok &= epoll_wait(ep, &got, 1, 1000) == 1 && got.data.fd == efd;
		t->ok &= read(efd, &v, 8) == 8 && v == 1;
		t->ok &= epoll_wait(ep, &got, 1, 0) == 0;
	}
	close(efd);
	close(ep);
	return NULL;
}

/* Several threads blocked on one instance: each consumes one event. */
static void *thread_shared(void *arg)
{
	struct thr *t = arg;
	struct epoll_event got;
	int n = epoll_wait(t->shared_ep, &got, 1, 5000);
	uint64_t v;

	/* EPOLLONESHOT item: exactly one thread gets it per arm. */
	t->ok = n == 1 && read(got.data.fd, &v, 8) == 8;
	return NULL;
}

static int exec_child(int ep)
{
	struct epoll_event got[2];
	char buf[64];

	/* The instance came through exec: the preload never saw it created. */
	int n = epoll_wait(ep, got, 2, 0);

	printf("exec-child: inherited instance fd %d is %s, wait returned %d\n",
	       ep, kind_of(ep, buf, sizeof(buf)), n);
	return n == 1 && got[0].data.u64 == 77 ? 0 : 1;
}

/* A thread with a cancel pending: epoll_create1 must not act on it. */
static volatile int cancel_fd = -2;

static void *cancel_thread(void *arg)
{
	(void)arg;
	pthread_cancel(pthread_self());
	cancel_fd = epoll_create1(EPOLL_CLOEXEC);
	pthread_testcancel();
	return NULL;
}

int main(int argc, char **argv)
{
	char buf[256];
	struct epoll_event ev, got[4];
	int ep, ep2, n, p[2];
	const char *kind;

	if (argc == 3 && strcmp(argv[1], "--exec-child") == 0)
		return exec_child(atoi(argv[2]));
	setvbuf(stdout, NULL, _IOLBF, 0);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		printf("not ok 1 - epoll_create1: %s\n", strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	kind = kind_of(ep, buf, sizeof(buf));
	printf("backend: %s\n", kind);
	CHECK(fcntl(ep, F_GETFD) & FD_CLOEXEC, "epoll_create1(EPOLL_CLOEXEC) sets FD_CLOEXEC");
	ep2 = epoll_create(1);
	CHECK(ep2 >= 0 && !(fcntl(ep2, F_GETFD) & FD_CLOEXEC) &&
	      strcmp(kind_of(ep2, buf, sizeof(buf)), kind) == 0,
	      "epoll_create(1) gives the same kind, no CLOEXEC");
	errno = 0;
	CHECK(epoll_create(0) < 0 && errno == EINVAL, "epoll_create(0) -> EINVAL");
	errno = 0;
	CHECK(epoll_create1(0x1) < 0 && errno == EINVAL, "epoll_create1(bad flag) -> EINVAL");
	{
		pthread_t ct;

		if (pthread_create(&ct, NULL, cancel_thread, NULL) == 0)
			pthread_join(ct, NULL);
		CHECK(cancel_fd >= 0, "epoll_create1 is not a cancellation point (a pending cancel waits)");
		if (cancel_fd >= 0)
			close(cancel_fd);
	}

	CHECK(pipe_scenario(ep, 0), "pipe LT: 2 KB in, 1 KB read, still ready");
	CHECK(pipe_scenario(ep, 1), "pipe ET: 2 KB in, 1 KB read, not reported again");

	/* errno cases, as epoll_ctl(2)/epoll_wait(2) list them */
	if (pipe(p) < 0)
		return 1;
	ev.events = EPOLLIN;
	ev.data.u64 = 1;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "ADD");
	errno = 0;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0 && errno == EEXIST, "ADD twice -> EEXIST");
	errno = 0;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev) < 0 && errno == ENOENT, "MOD unknown -> ENOENT");
	errno = 0;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, 9999, &ev) < 0 && errno == EBADF, "ADD bad fd -> EBADF");
	errno = 0;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev) < 0 && errno == EINVAL, "ADD self -> EINVAL");
	errno = 0;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], NULL) < 0 && errno == EFAULT, "ADD NULL event -> EFAULT");
	errno = 0;
	CHECK(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev) < 0 && errno == EINVAL, "ctl on a pipe fd -> EINVAL");
	errno = 0;
	CHECK(epoll_wait(ep, got, 0, 0) < 0 && errno == EINVAL, "wait maxevents 0 -> EINVAL");
	errno = 0;
	CHECK(epoll_wait(p[0], got, 1, 0) < 0 && errno == EINVAL, "wait on a pipe fd -> EINVAL");
	errno = 0;
	CHECK(epoll_wait(9999, got, 1, 0) < 0 && errno == EBADF, "wait on a bad fd -> EBADF");
	struct timespec bad = { .tv_sec = 0, .tv_nsec = 1000000000L };

	errno = 0;
	CHECK(epoll_pwait2(ep, got, 1, &bad, NULL) < 0 && errno == EINVAL, "pwait2 bad timespec -> EINVAL");
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "DEL with NULL event");

	/* timeouts */
	double t0 = now();

	n = epoll_wait(ep, got, 4, 100);
	double dt = now() - t0;

	CHECK(n == 0 && dt >= 0.095 && dt < 2.0, "epoll_wait 100 ms timeout (%.3f s)", dt);
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000000L };

	t0 = now();
	n = epoll_pwait2(ep, got, 4, &ts, NULL);
	dt = now() - t0;
	CHECK(n == 0 && dt >= 0.045 && dt < 2.0, "epoll_pwait2 50 ms timespec (%.3f s)", dt);

	/* pwait's sigmask: SIGUSR1 blocked, pending; the wait's mask opens it. */
	sigset_t block, empty, cur;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	errno = 0;
	n = epoll_pwait(ep, got, 4, 5000, &empty);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	CHECK(n < 0 && errno == EINTR && got_usr1 && sigismember(&cur, SIGUSR1),
	      "epoll_pwait: sigmask lets the pending signal in, EINTR, mask restored");
	got_usr1 = 0;
	raise(SIGUSR1);
	errno = 0;
	ts.tv_nsec = 0;
	ts.tv_sec = 5;
	n = epoll_pwait2(ep, got, 4, &ts, &empty);
	CHECK(n < 0 && errno == EINTR && got_usr1, "epoll_pwait2 with sigmask -> EINTR");
	sigprocmask(SIG_UNBLOCK, &block, NULL);

	/* threads, each on its own instance */
	enum { NT = 8 };
	pthread_t th[NT];
	struct thr t[NT];

	for (int i = 0; i < NT; i++) {
		t[i] = (struct thr){ .rounds = 500 };
		pthread_create(&th[i], NULL, thread_own, &t[i]);
	}
	int all = 1;

	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		all &= t[i].ok;
	}
	CHECK(all, "%d threads x 500 rounds, each on its own instance", NT);

	/* threads blocked on one instance, one EPOLLONESHOT eventfd each */
	int sep = epoll_create1(0), efds[4];

	for (int i = 0; i < 4; i++) {
		efds[i] = eventfd(0, EFD_NONBLOCK);
		ev.events = EPOLLIN | EPOLLONESHOT;
		ev.data.fd = efds[i];
		epoll_ctl(sep, EPOLL_CTL_ADD, efds[i], &ev);
		t[i] = (struct thr){ .shared_ep = sep };
		pthread_create(&th[i], NULL, thread_shared, &t[i]);
	}
	usleep(100000);
	for (int i = 0; i < 4; i++) {
		uint64_t v = 1;

		if (write(efds[i], &v, 8) != 8)
			all = 0;
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		all &= t[i].ok;
	}
	CHECK(all, "4 threads blocked on one instance each get one ONESHOT event");
	for (int i = 0; i < 4; i++)
		close(efds[i]);
	close(sep);

	/* fork: the child waits on the parent's instance and creates its own */
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ev.events = EPOLLIN;
	ev.data.u64 = 42;
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
	pid_t pid = fork();

	if (pid == 0) {
		int ok = 1, cep;

		ok &= write(sv[1], "x", 1) == 1;
		ok &= epoll_wait(ep, got, 4, 2000) == 1 && got[0].data.u64 == 42;
		cep = epoll_create1(0);
		ok &= cep >= 0 && pipe_scenario(cep, 1);
		_exit(ok ? 0 : 1);
	}
	int st;

	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork: child uses the inherited instance and a new one");
	n = epoll_wait(ep, got, 4, 0);
	CHECK(n == 1 && got[0].data.u64 == 42, "parent sees the child's write (LT, shared instance)");
	char c;

	if (read(sv[0], &c, 1) != 1)
		nfail++;

	/* dup2 to a number never returned by epoll_create */
	int high = dup2(ep, 777);

	n = epoll_wait(high, got, 4, 0);
	CHECK(high == 777 && n == 0 && strcmp(kind_of(high, buf, sizeof(buf)), kind) == 0,
	      "dup2'ed instance works");
	ev.data.u64 = 43;
	CHECK(epoll_ctl(high, EPOLL_CTL_MOD, sv[0], &ev) == 0, "MOD through the dup");
	close(high);

	/*
	 * An instance number reused by an epoll instance the preload never
	 * saw created (raw system call): the call must reach epoll.
	 */
	int x = epoll_create1(0), rp[2];

	close(x);
	int raw = (int)syscall(SYS_epoll_create1, 0);

	if (pipe(rp) < 0)
		return 1;
	ev.events = EPOLLIN;
	ev.data.u64 = 5;
	if (write(rp[1], "r", 1) != 1)
		nfail++;
	CHECK(raw == x && epoll_ctl(raw, EPOLL_CTL_ADD, rp[0], &ev) == 0 &&
	      epoll_wait(raw, got, 4, 0) == 1 && got[0].data.u64 == 5 &&
	      strcmp(kind_of(raw, buf, sizeof(buf)), "epoll") == 0,
	      "fd %d reused by a raw-syscall epoll instance reaches epoll", x);
	close(raw);
	close(rp[0]);
	close(rp[1]);

	/* An instance far above the usual numbers (a fresh part of any fd table). */
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 200000) {
		rl.rlim_cur = 200000;
		if (rl.rlim_max < 200000)
			rl.rlim_max = 200000;	/* root (the guest) may raise it */
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int far = dup2(ep, 150000);

	if (far == 150000) {
		ev.data.u64 = 44;
		CHECK(epoll_ctl(far, EPOLL_CTL_MOD, sv[0], &ev) == 0 &&
		      epoll_wait(far, got, 4, 0) == 0, "instance dup2'ed to fd 150000 works");
		close(far);
	} else {
		printf("ok %d - # SKIP fd 150000: %s\n", ++npass + nfail, strerror(errno));
	}

	/* close without DEL: once the socket is closed, no more events */
	int sv2[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv2);
	ev.events = EPOLLIN;
	ev.data.u64 = 99;
	epoll_ctl(ep, EPOLL_CTL_ADD, sv2[0], &ev);
	if (write(sv2[1], "y", 1) != 1)
		nfail++;
	n = epoll_wait(ep, got, 4, 0);
	int before = n == 1 && got[0].data.u64 == 99;

	close(sv2[0]);
	n = epoll_wait(ep, got, 4, 0);
	CHECK(before && n == 0, "close without DEL: the closed target is not reported");
	close(sv2[1]);

	/* exec with an inherited (non-CLOEXEC) instance */
	int iep = epoll_create(1);
	int ip[2];

	if (pipe(ip) < 0)
		return 1;
	ev.events = EPOLLIN;
	ev.data.u64 = 77;
	epoll_ctl(iep, EPOLL_CTL_ADD, ip[0], &ev);
	if (write(ip[1], "z", 1) != 1)
		nfail++;
	pid = fork();
	if (pid == 0) {
		char arg[16];

		snprintf(arg, sizeof(arg), "%d", iep);
		execl("/proc/self/exe", argv[0], "--exec-child", arg, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec: the new image waits on the inherited instance");

	close(ep);
	close(ep2);
	close(iep);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
