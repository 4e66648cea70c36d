// SPDX-License-Identifier: GPL-2.0
/*
 * percall: what one call costs, in ns, for the calls behind xpoll-bench's
 * per-call rows, so that a loss can be split into the entry and the work.
 *
 *   tools/bench/percall [REPS [FILTER]]     in a guest with /dev/xpoll
 *
 * Each call runs CALLS times in a row; the calls take turns (the order
 * reversed every other repetition, so drift on the host lands on all),
 * REPS times (default 5); printed: median and min over the repetitions of
 * the mean time per call.  1000 eventfds are registered on one epoll and
 * one xpoll instance, the first 64 of them readable (level-triggered), so
 * a 1-event wait finds an event and a 64-event wait fills its buffer.
 *
 * The entry rows need no instance work: a bare system call (getppid), an
 * epoll_wait() that fails on maxevents 0 before it looks at anything, an
 * unknown ioctl() command on an eventfd (any driver's ioctl path, xpoll not
 * involved) and on the instance (xpoll's), and read() of /dev/null (the
 * other way into a character device).  make bench prints this table after
 * its own.
 *
 * The turn rows are xpoll-bench's pingpong turn without the other thread
 * and the sleep: a thread wakes its own instance and waits, so the wait
 * always finds the wakeup (one edge-triggered event).  epoll: write() of an
 * EPOLLET eventfd + epoll_wait(); xpoll: one XPOLL_IOC_CTL_WAIT whose change
 * list triggers an EPOLLET user event of the instance named by its fd (the
 * path a trigger of another instance takes), and the same as two calls,
 * XPOLL_IOC_CTL's trigger + XPOLL_IOC_WAIT.  Skipped on a module without
 * user events.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <linux/xpoll.h>

#define NFD	1000
#define READY	64
#define CALLS	50000
#define MAXREPS	32

static int ep, xp, devnull, efd[NFD], mod_i;
static int ep_turn, xp_turn = -1, efd_turn;	/* the turn rows' own */
static struct epoll_event evs[READY];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int xp_wait(int max)
{
	struct xpoll_wait w = { .events = (uintptr_t)evs, .maxevents = max };

	return ioctl(xp, XPOLL_IOC_WAIT, &w);
}

/* Each returns whether the call did what it should. */
static int c_getppid(void) { return syscall(SYS_getppid) > 0; }
static int c_ep_max0(void) { return epoll_wait(ep, evs, 0, 0) == -1; }
static int c_ioctl_efd(void) { return ioctl(efd[NFD - 1], _IO(XPOLL_IOC_MAGIC, 0x7f)) == -1; }
static int c_ioctl_xp(void) { return ioctl(xp, _IO(XPOLL_IOC_MAGIC, 0x7f)) == -1; }
static int c_read_null(void) { char b[8]; return read(devnull, b, sizeof(b)) == 0; }

static int c_ep_badop(void)
{
	struct epoll_event e = { 0 };

	return epoll_ctl(ep, 0, efd[0], &e) == -1;
}

static int c_xp_version(void)
{
	struct xpoll_version v = { 0 };

	return ioctl(xp, XPOLL_IOC_VERSION, &v) == 0;
}

static int c_ep_wait1(void) { return epoll_wait(ep, evs, 1, 0) == 1; }
static int c_xp_wait1(void) { return xp_wait(1) == 1; }
static int c_ep_wait64(void) { return epoll_wait(ep, evs, READY, 0) == READY; }
static int c_xp_wait64(void) { return xp_wait(READY) == READY; }

/* MOD of the non-ready targets in turn, the interest set alternating. */
static int mod_fd(void)
{
	return efd[READY + mod_i % (NFD - READY)];
}

static uint32_t mod_events(void)
{
	return EPOLLIN | (mod_i++ & 1 ? EPOLLOUT : 0);
}

static int c_ep_mod(void)
{
	struct epoll_event e = { .data.u64 = 1 };
	int fd = mod_fd();

	e.events = mod_events();
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) == 0;
}

static int c_xp_mod(void)
{
	struct xpoll_ctl c = { .op = XPOLL_CTL_MOD, .data = 1 };

	c.fd = mod_fd();
	c.events = mod_events();
	return ioctl(xp, XPOLL_IOC_CTL, &c) == 0;
}

#define TURN_KEY 7

static int c_ep_turn(void)
{
	uint64_t one = 1;

	return write(efd_turn, &one, sizeof(one)) == sizeof(one) &&
	       epoll_wait(ep_turn, evs, 1, 0) == 1;
}

static int c_xp_turn1(void)
{
	struct xpoll_ctl trig = {
		.op = XPOLL_CTL_TRIGGER, .flags = XPOLL_CTL_USER, .fd = xp_turn,
		.key = TURN_KEY, .events = EPOLLIN,
	};
	int32_t res;
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)&trig, .results = (uintptr_t)&res, .nr = 1,
		.wait = { .events = (uintptr_t)evs, .maxevents = 1 },
	};

	return ioctl(xp_turn, XPOLL_IOC_CTL_WAIT, &cw) == 1 && !res;
}

static int c_xp_turn2(void)
{
	struct xpoll_ctl trig = {
		.op = XPOLL_CTL_TRIGGER, .flags = XPOLL_CTL_USER, .fd = -1,
		.key = TURN_KEY, .events = EPOLLIN,
	};
	struct xpoll_wait w = { .events = (uintptr_t)evs, .maxevents = 1 };

	return ioctl(xp_turn, XPOLL_IOC_CTL, &trig) == 0 &&
	       ioctl(xp_turn, XPOLL_IOC_WAIT, &w) == 1;
}

static const struct call {
	const char *name;
	int (*fn)(void);
} calls[] = {
	{ "entry: getppid()", c_getppid },
	{ "entry: epoll_wait(maxevents 0)", c_ep_max0 },
	{ "entry: ioctl(eventfd, unknown)", c_ioctl_efd },
	{ "entry: ioctl(xpoll, unknown)", c_ioctl_xp },
	{ "entry: read(/dev/null)", c_read_null },
	{ "epoll_ctl(bad op)", c_ep_badop },
	{ "xpoll VERSION", c_xp_version },
	{ "epoll_wait 1 event LT", c_ep_wait1 },
	{ "xpoll wait 1 event LT", c_xp_wait1 },
	{ "epoll_wait 64 events LT", c_ep_wait64 },
	{ "xpoll wait 64 events LT", c_xp_wait64 },
	{ "epoll_ctl MOD", c_ep_mod },
	{ "xpoll ctl MOD", c_xp_mod },
	{ "turn: epoll write+wait", c_ep_turn },
	{ "turn: xpoll ctl_wait(trigger)", c_xp_turn1 },
	{ "turn: xpoll trigger, wait", c_xp_turn2 },
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void setup(void)
{
	uint64_t one = 1;

	ep = epoll_create1(EPOLL_CLOEXEC);
	xp = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (ep < 0 || xp < 0 || devnull < 0)
		die("epoll_create1, open " XPOLL_DEVICE " or /dev/null");
	for (int i = 0; i < NFD; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = i };
		struct xpoll_ctl c = {
			.op = XPOLL_CTL_ADD, .events = EPOLLIN, .data = i,
		};

		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd[i] < 0)
			die("eventfd");
		c.fd = efd[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, efd[i], &e) ||
		    ioctl(xp, XPOLL_IOC_CTL, &c))
			die("ADD");
		if (i < READY && write(efd[i], &one, sizeof(one)) != sizeof(one))
			die("write");
	}

	struct epoll_event e = { .events = EPOLLIN | EPOLLET };
	struct xpoll_ctl u = {
		.op = XPOLL_CTL_ADD, .fd = -1, .flags = XPOLL_CTL_USER,
		.key = TURN_KEY, .events = EPOLLIN | EPOLLET,
	};

	ep_turn = epoll_create1(EPOLL_CLOEXEC);
	efd_turn = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep_turn < 0 || efd_turn < 0 || epoll_ctl(ep_turn, EPOLL_CTL_ADD, efd_turn, &e))
		die("turn: epoll");
	xp_turn = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	if (xp_turn < 0)
		die("open " XPOLL_DEVICE);
	if (ioctl(xp_turn, XPOLL_IOC_CTL, &u)) {	/* no user events: no turn rows */
		close(xp_turn);
		xp_turn = -1;
	}
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	const char *filter = argc > 2 ? argv[2] : NULL;
	static double ns[NCALLS][MAXREPS];

	if (reps < 1 || reps > MAXREPS) {
		fprintf(stderr, "usage: %s [REPS (1-%d) [FILTER]]\n", argv[0], MAXREPS);
		return 2;
	}
	setup();
	for (int r = 0; r < reps; r++) {
		for (unsigned int j = 0; j < NCALLS; j++) {
			const struct call *c = &calls[r & 1 ? NCALLS - 1 - j : j];
			double t0;

			if (filter && !strstr(c->name, filter))
				continue;
			if (xp_turn < 0 && !strncmp(c->name, "turn:", 5))
				continue;
			t0 = now();
			for (int i = 0; i < CALLS; i++)
				if (!c->fn()) {
					fprintf(stderr, "%s: unexpected result\n", c->name);
					return 1;
				}
			ns[c - calls][r] = (now() - t0) / CALLS * 1e9;
		}
	}
	printf("# per call, %d calls in a row, %d repetitions: median (min) ns\n", CALLS, reps);
	for (unsigned int j = 0; j < NCALLS; j++) {
		if (filter && !strstr(calls[j].name, filter))
			continue;
		if (xp_turn < 0 && !strncmp(calls[j].name, "turn:", 5)) {
			printf("%-32s %8s  (this module has no user events)\n", calls[j].name, "-");
			continue;
		}
		qsort(ns[j], reps, sizeof(double), cmp_d);
		printf("%-32s %8.0f  (%.0f)\n", calls[j].name, ns[j][reps / 2], ns[j][0]);
	}
	return 0;
}
