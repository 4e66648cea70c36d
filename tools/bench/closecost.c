// SPDX-License-Identifier: GPL-2.0
/*
 * closecost: what many watches cost somebody else, on epoll and on xpoll
 * (issue 14).  Both scenarios are run by uid 65534; a canary in another
 * process (root) closes a watched socket of its own now and then, without
 * DEL, and times how long its peer waits for the EOF, and how long an
 * inotify open+watch+close takes (a close that waits for every fsnotify
 * handler running, xpoll's close handler among them).
 *
 *   tools/bench/closecost idle   [ITEMS [SECONDS]]   (90000, 10)
 *   tools/bench/closecost nested [M [K]]             (300, 300)
 *
 * idle:   ITEMS live items on one eventfd (one instance, ITEMS dup()s),
 *         then SECONDS of idleness: the system time the machine spent
 *         (/proc/stat, in ticks), against the same time with no items.
 * nested: one child instance watched by M instances through K dup()s
 *         each (M * K items); every descriptor of the child is then
 *         closed, and the canary runs through it.
 *
 * Prints one line per backend: figures and the canary's worst waits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
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
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/xpoll.h>

enum { EPOLL, XPOLL };
static const char *const be_name[] = { "epoll", "xpoll" };

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int create(int be)
{
	return be == EPOLL ? epoll_create1(EPOLL_CLOEXEC) :
	       open("/dev/xpoll", O_RDWR | O_CLOEXEC);
}

static int add(int be, int p, int fd)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = (uint64_t)fd };
	struct xpoll_ctl c = { .op = EPOLL_CTL_ADD, .fd = fd, .events = EPOLLIN,
			       .data = (uint64_t)fd };

	if (be == EPOLL)
		return epoll_ctl(p, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
	return ioctl(p, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

static long system_ticks(void)
{
	long user, nice, sys = -1;
	FILE *f = fopen("/proc/stat", "re");

	if (!f || fscanf(f, "cpu %ld %ld %ld", &user, &nice, &sys) != 3)
		sys = -1;
	if (f)
		fclose(f);
	return sys;
}

/*
 * The canary, until @stop is written: every @gap_ms, a socketpair whose
 * one end is watched by its own instance is closed without DEL, and an
 * inotify descriptor is opened, given a watch and closed (that close
 * waits for every fsnotify handler running, xpoll's close handler
 * included).  The worst wait of the peer for EOF and the worst inotify
 * round, in us, go to @out.
 */
static pid_t canary(int be, int gap_ms, int stop, int out)
{
	pid_t pid = fork();
	int64_t worst[2] = { 0, 0 }, t;
	struct pollfd pf;
	int p, s[2], ifd;

	if (pid)
		return pid;
	p = create(be);
	for (;;) {
		pf = (struct pollfd){ .fd = stop, .events = POLLIN };
		if (poll(&pf, 1, gap_ms) == 1)
			break;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) ||
		    add(be, p, s[0]))
			_exit(1);
		t = now_ns();
		close(s[0]);
		pf = (struct pollfd){ .fd = s[1], .events = POLLIN | POLLRDHUP };
		if (poll(&pf, 1, 200000) != 1)
			_exit(1);
		t = (now_ns() - t) / 1000;
		worst[0] = t > worst[0] ? t : worst[0];
		close(s[1]);
		t = now_ns();
		ifd = inotify_init1(IN_CLOEXEC);
		if (ifd < 0 || inotify_add_watch(ifd, "/tmp", IN_CREATE) < 0)
			_exit(1);
		close(ifd);
		t = (now_ns() - t) / 1000;
		worst[1] = t > worst[1] ? t : worst[1];
	}
	_exit(write(out, worst, sizeof(worst)) == sizeof(worst) ? 0 : 1);
}

static int nobody(void)
{
	return setgroups(0, NULL) || setgid(65534) || setuid(65534) ? -1 : 0;
}

/* Runs @fn(be, a, b, res) as uid 65534 beside a canary; res[] printed. */
static void run(int be, int gap_ms, void (*fn)(int, long, long, int),
		long a, long b, const char *what)
{
	int stop[2], out[2], res[2], status;
	int64_t worst[2] = { -1, -1 };
	long r[2] = { -1, -1 };
	pid_t c, w;

	if (pipe2(stop, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
	    pipe2(res, O_CLOEXEC))
		exit(1);
	c = canary(be, gap_ms, stop[0], out[1]);
	w = fork();
	if (w == 0) {
		if (nobody())
			_exit(2);
		fn(be, a, b, res[1]);
		_exit(0);
	}
	if (read(res[0], r, sizeof(r)) != sizeof(r))
		fprintf(stderr, "closecost: no result from the %s run\n", what);
	waitpid(w, &status, 0);
	if (write(stop[1], "x", 1) != 1 ||
	    read(out[0], worst, sizeof(worst)) != sizeof(worst))
		worst[0] = worst[1] = -1;
	waitpid(c, &status, 0);
	printf("%s %s: %ld %ld; canary's worst EOF wait %lld us, worst inotify open+watch+close %lld us\n",
	       be_name[be], what, r[0], r[1], (long long)worst[0],
	       (long long)worst[1]);
}

static void idle(int be, long items, long seconds, int res)
{
	long r[2], t0;
	int p = create(be), e = eventfd(0, EFD_CLOEXEC);

	t0 = system_ticks();
	sleep((unsigned int)seconds);
	r[0] = system_ticks() - t0;	/* no items */
	for (long i = 0; i < items; i++) {
		int d = dup(e);

		if (d < 0 || add(be, p, d))
			_exit(3);
	}
	t0 = system_ticks();
	sleep((unsigned int)seconds);
	r[1] = system_ticks() - t0;	/* ITEMS items */
	if (write(res, r, sizeof(r)) != sizeof(r))
		_exit(4);
}

static void nested(int be, long m, long k, int res)
{
	int c = create(be), *fds = calloc((size_t)k, sizeof(int));
	long r[2] = { m * k, 0 };
	int64_t t;

	if (!fds)
		_exit(3);
	for (long j = 0; j < k; j++)
		fds[j] = j ? dup(c) : c;
	for (long i = 0; i < m; i++) {
		int p = create(be);

		for (long j = 0; j < k; j++)
			if (p < 0 || add(be, p, fds[j]))
				_exit(4);
	}
	t = now_ns();
	for (long j = 0; j < k; j++)
		close(fds[j]);
	r[1] = (long)((now_ns() - t) / 1000);	/* us to close them all */
	if (write(res, r, sizeof(r)) != sizeof(r))
		_exit(5);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 1 << 20, 1 << 20 };
	bool is_idle = argc > 1 && !strcmp(argv[1], "idle");
	long a = argc > 2 ? atol(argv[2]) : is_idle ? 90000 : 300;
	long b = argc > 3 ? atol(argv[3]) : is_idle ? 10 : 300;

	if (argc < 2 || (!is_idle && strcmp(argv[1], "nested"))) {
		fprintf(stderr, "usage: %s idle [ITEMS [SECONDS]] | nested [M [K]]\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("setrlimit");
	for (int be = EPOLL; be <= XPOLL; be++)
		run(be, 100, is_idle ? idle : nested, a, b, is_idle ?
		    "system ticks idle with 0 and with ITEMS items" :
		    "items, us to close the child's every descriptor");
	return 0;
}
