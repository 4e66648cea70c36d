// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll_diff: the differential test against epoll (issue 3).
 *
 * One process applies the same random sequence of operations to an epoll
 * instance and an xpoll instance: ADD/MOD/DEL with random masks and
 * modes, reads and writes that change readiness, closes, dups, timer and
 * signal operations, and waits with timeout 0, on pipes, eventfds, UNIX
 * and TCP-loopback sockets, timerfds and signalfds.  Every target fd is
 * registered in both instances (one fd, two instances), so every
 * readiness change is seen by both; each wait is done on epoll and then at
 * once on xpoll, with no readiness change in between, so even ET edges
 * must agree.  Every ctl result and every wait's SET of (events, data)
 * must be equal; from time to time the fdinfo listings must be equal too.
 *
 * Determinism (what makes a difference a bug and not noise):
 *  - timers are only armed already expired (and we poll() until the tick
 *    has landed) or far in the future;
 *  - signals are blocked, raised at ourselves, synchronous;
 *  - TCP: NODELAY, large buffers (writability never flips), small writes,
 *    and after each write we wait until the peer has the bytes; after a
 *    shutdown or close we wait until no socket of the pair is in a state
 *    waiting for an ACK;
 *  - closing the last fd of a watched file removes its items in both at
 *    once (xpoll, like epoll, learns of the close in __fput()): right
 *    after such a close both fdinfo listings must hold exactly the items
 *    of live files, no wait may report the closed file, and its peer
 *    (pipe end, socket) must see the close before the next operation.
 *
 * User events (XPOLL_CTL_USER): NUSER keys, each mirrored on the epoll
 * side by an eventfd of its own (the uapi's contract: a user event is an
 * eventfd watched for the same bits).  ADD/MOD/DEL of the key are ADD/MOD/
 * DEL of the eventfd (interest EPOLLIN, with ET, ONESHOT, now and then
 * EXCLUSIVE), TRIGGER is write(efd, 1), CLEAR is read(efd), and a DEL
 * drains the eventfd (a user event is empty at ADD).  The events and data
 * of every wait, every ctl result (TRIGGER/CLEAR of a key not added:
 * ENOENT, which the model gives the epoll side), and at each fdinfo
 * check the "uev:" lines against the eventfds' "tfd:" lines (key, data,
 * interest; pending against the eventfd's count) must agree.  Half the
 * keys are small numbers that target fds also use.
 *
 * --self-check runs the same harness with a second epoll in place of
 * xpoll: proof that the harness itself is deterministic.
 *
 * Usage: xpoll_diff [--ops N] [--seed S] [--self-check] [--mutate] [-v]
 * --mutate drops EPOLLONESHOT from the tested instance's ctl calls: the
 * run must then fail (proof that a difference is caught).
 * Output is TAP; the seed is printed as "# seed: S ops: N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <linux/sockios.h>
#include <linux/xpoll.h>

#define MAXF	(1 << 16)	/* files created in one run */
#define MAXFD	512	/* fd numbers the targets use stay below */
#define MAXKEYS	4096
#define LIVE_FILES 40
#define LIVE_FDS 80
#define NEV	512

enum kind { K_PIPE_R, K_PIPE_W, K_EFD, K_UNIX, K_TCP, K_TFD, K_SFD, K_NKIND };
#define K_USER	(K_NKIND + 1)	/* the pseudo file of a user event */
static const char *kname[] = { "pipe_r", "pipe_w", "eventfd", "unix", "tcp",
			       "timerfd", "signalfd", "stdin", "user" };

struct fobj {
	int kind;
	bool alive;
	int nfd;	/* user fds open on it */
	int peer;	/* fid of the other end, 0 if none */
	long inq;	/* TCP: bytes the peer wrote that we have not read */
	bool shut_wr;	/* TCP: we shut down writing */
};

struct key { int fid, fd; };

static struct fobj F[MAXF];
static int nfiles = 1;		/* fid 0 means "no file" */
static int fdmap[MAXFD];	/* fd -> fid */
static int livefds[MAXFD], nlive;
static struct key keys[MAXKEYS];
static int nkeys;
static int ep, xp;		/* the reference and the instance under test */
static bool self_check, verbose, mutate;
static uint64_t rng;
static long op_no;
static int sigs[3];

static struct {
	long ctl, ctl_err, ctl_waits, waits, waits_nonempty, events, closes,
	     dirty, fdinfo_checks, settles, uctl, utrig, uclear, uerr,
	     uevents;
} st;

/*
 * User events: slot i is key U[i].key on the instance under test and
 * eventfd U[i].efd in epoll (U[i].efd2 in the second epoll of
 * --self-check).  Their fds sit above MAXFD: no random operation touches
 * them.
 */
#define NUSER	8
struct uslot {
	uint64_t key;
	int efd, efd2;
	int fid;		/* pseudo file: the fid in the event data */
	bool added;		/* in both instances */
	uint32_t events;	/* as the last successful ADD / MOD */
};
static struct uslot U[NUSER];

static struct uslot *slot_of(uint64_t key)
{
	for (int i = 0; i < NUSER; i++)
		if (U[i].key == key)
			return &U[i];
	return NULL;
}

static int nuser_added(void)
{
	int n = 0;

	for (int i = 0; i < NUSER; i++)
		n += U[i].added;
	return n;
}

/* ---- op log: the tail is printed on a mismatch ---- */
#define LOGN 64
static char oplog[LOGN][160];

static void logop(const char *fmt, ...)
{
	va_list ap;
	char *s = oplog[op_no % LOGN];
	int n = snprintf(s, 160, "%ld: ", op_no);

	va_start(ap, fmt);
	vsnprintf(s + n, 160 - n, fmt, ap);
	va_end(ap);
	if (verbose)
		printf("# %s\n", s);
}

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	printf("# MISMATCH at op %ld: ", op_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n# last operations:\n");
	for (long i = op_no - LOGN + 1; i <= op_no; i++)
		if (i >= 0 && oplog[i % LOGN][0])
			printf("#   %s\n", oplog[i % LOGN]);
	printf("not ok 1 xpoll_diff: epoll and %s agree\n",
	       self_check ? "a second epoll" : "xpoll");
	exit(1);
}

static void __attribute__((noreturn)) harness_error(const char *what)
{
	printf("# harness error at op %ld: %s: %s\n", op_no, what, strerror(errno));
	fail("harness could not make the state deterministic (%s)", what);
}

/* xorshift64*: the whole run follows from the seed */
static uint64_t rnd64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned int rnd(unsigned int n)
{
	return n ? (unsigned int)(rnd64() % n) : 0;
}

static bool chance(unsigned int pct)
{
	return rnd(100) < pct;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* ---- the two instances ---- */

static int selfcheck_user(int op, uint64_t key, struct epoll_event *e);

static int t_ctlx(int op, int fd, uint32_t events, uint64_t data,
		  uint32_t flags, uint64_t key)
{
	struct epoll_event e = { .events = events, .data.u64 = data };
	int r;

	/* --mutate: a deliberate difference, to show the test catches one */
	if (mutate && (events & EPOLLONESHOT))
		e.events = events &= ~EPOLLONESHOT;
	if (self_check && (flags & XPOLL_CTL_USER)) {
		return selfcheck_user(op, key, &e);
	} else if (self_check) {
		r = epoll_ctl(xp, op, fd, &e);
	} else if (st.ctl % 3 == 1) {
		/*
		 * Every third change goes through XPOLL_IOC_CTL_BATCH, whose
		 * per-change result must be the same errno (chosen by count,
		 * not by rnd(), so a seed replays the same sequence).
		 */
		struct xpoll_ctl c = { .op = (uint32_t)op, .fd = fd,
				       .events = events, .data = data,
				       .flags = flags, .key = key };
		int32_t res = 1;
		struct xpoll_ctl_batch b = { .ctls = (uintptr_t)&c,
					     .results = (uintptr_t)&res, .nr = 1 };

		r = ioctl(xp, XPOLL_IOC_CTL_BATCH, &b);
		if (r != 1)
			fail("XPOLL_IOC_CTL_BATCH of one change returned %d (%s)",
			     r, strerror(errno));
		return res;
	} else {
		struct xpoll_ctl c = { .op = (uint32_t)op, .fd = fd,
				       .events = events, .data = data,
				       .flags = flags, .key = key };
		r = ioctl(xp, XPOLL_IOC_CTL, &c);
	}
	return r < 0 ? -errno : 0;
}

static int t_ctl(int op, int fd, uint32_t events, uint64_t data)
{
	return t_ctlx(op, fd, events, data, 0, 0);
}

static int e_ctl(int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event e = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, op, fd, &e) < 0 ? -errno : 0;
}

static int t_wait(struct epoll_event *ev, int max)
{
	int r;

	if (self_check) {
		r = epoll_wait(xp, ev, max, 0);
	} else {
		struct xpoll_wait w = { .events = (uintptr_t)ev,
					.maxevents = max, .timeout_ns = 0 };
		r = ioctl(xp, XPOLL_IOC_WAIT, &w);
	}
	return r < 0 ? -errno : r;
}

/*
 * One change and a wait (timeout 0) in one XPOLL_IOC_CTL_WAIT: its result
 * (as t_ctl's), the events in @ev, their number in *@n.
 */
static int t_ctl_wait(int op, int fd, uint32_t events, uint64_t data,
		      uint32_t flags, uint64_t key, struct epoll_event *ev,
		      int max, int *n)
{
	struct xpoll_ctl c = { .op = (uint32_t)op, .fd = fd,
			       .events = events, .data = data,
			       .flags = flags, .key = key };
	int32_t res = 1;
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)&c, .results = (uintptr_t)&res, .nr = 1,
		.wait = { .events = (uintptr_t)ev, .maxevents = max },
	};

	if (mutate && (events & EPOLLONESHOT))
		c.events &= ~EPOLLONESHOT;
	*n = ioctl(xp, XPOLL_IOC_CTL_WAIT, &cw);
	if (*n < 0 || cw.nr_done != 1)
		fail("XPOLL_IOC_CTL_WAIT of one change returned %d (%s), nr_done %u",
		     *n, strerror(errno), cw.nr_done);
	return res;
}

static void compare_waits(struct epoll_event *ee, int ne,
			  struct epoll_event *xe, int nx);

/* ---- model ---- */

static int new_file(int kind, int fd)
{
	int fid = nfiles++;

	if (fd < 0)
		harness_error("create");
	if (fd >= MAXFD)
		harness_error("fd too large");
	F[fid] = (struct fobj){ .kind = kind, .alive = true, .nfd = 1 };
	fdmap[fd] = fid;
	livefds[nlive++] = fd;
	return fid;
}

static void drop_fd(int fd)
{
	for (int i = 0; i < nlive; i++)
		if (livefds[i] == fd) {
			livefds[i] = livefds[--nlive];
			break;
		}
	fdmap[fd] = 0;
}

static int find_key(int fid, int fd)
{
	for (int i = 0; i < nkeys; i++)
		if (keys[i].fid == fid && keys[i].fd == fd)
			return i;
	return -1;
}

static bool file_has_keys(int fid)
{
	for (int i = 0; i < nkeys; i++)
		if (keys[i].fid == fid)
			return true;
	return false;
}

static int live_keys(void)
{
	int n = 0;

	for (int i = 0; i < nkeys; i++)
		n += F[keys[i].fid].alive;
	return n;
}

static void forget_dead_keys(void)
{
	for (int i = 0; i < nkeys;)
		if (!F[keys[i].fid].alive)
			keys[i] = keys[--nkeys];
		else
			i++;
}

static int random_live_fd(void)
{
	return nlive ? livefds[rnd(nlive)] : -1;
}

/* ---- settling asynchronous kernel work ---- */

static int fdinfo_count(int pfd)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pfd);
	f = fopen(path, "re");
	if (!f)
		harness_error("fdinfo");
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "tfd:", 4);
	fclose(f);
	return n;
}

/*
 * Both instances list exactly the items of live files, now: the files
 * closed while watched took their items with them (a close removes them
 * before it returns, in epoll and in xpoll).
 */
static void check_released(void)
{
	int want = live_keys(), ne = fdinfo_count(ep), nx = fdinfo_count(xp);
	int nu = nuser_added();

	st.settles++;
	/* epoll lists the user events' eventfds too, xpoll "uev:" lines */
	ne -= nu;
	if (self_check)
		nx -= nu;
	if (ne == want && nx == want) {
		forget_dead_keys();
		return;
	}
	printf("# model keys:");
	for (int i = 0; i < nkeys; i++)
		printf(" (%d:%d%s)", keys[i].fid, keys[i].fd, F[keys[i].fid].alive ? "" : " dead");
	printf("\n");
	fail("closed files' items still listed right after the close: epoll "
	     "lists %d items, %s %d, live %d", ne, self_check ? "epoll2" : "xpoll",
	     nx, want);
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -1;
	return ti.tcpi_state;
}

/* No live socket of this TCP pair waits for an ACK or data in flight. */
static void settle_tcp(int fid)
{
	int64_t t0 = now_ns();
	int fids[2] = { fid, F[fid].peer };

	while (now_ns() - t0 < 5000000000LL) {
		bool calm = true;

		for (int s = 0; s < 2; s++) {
			int f = fids[s], fd = -1, q = 0;

			if (!f || !F[f].alive)
				continue;
			for (int i = 0; i < nlive; i++)
				if (fdmap[livefds[i]] == f)
					fd = livefds[i];
			switch (tcp_state(fd)) {
			case TCP_FIN_WAIT1: case TCP_CLOSING: case TCP_LAST_ACK:
			case TCP_SYN_SENT: case TCP_SYN_RECV:
				calm = false;
			}
			if (ioctl(fd, SIOCINQ, &q) == 0 && q < F[f].inq &&
			    tcp_state(fd) == TCP_ESTABLISHED)
				calm = false;
		}
		if (calm)
			return;
		sleep_us(1000);
	}
	errno = ETIMEDOUT;
	harness_error("TCP pair did not settle");
}

static int fd_of(int fid)
{
	for (int i = 0; i < nlive; i++)
		if (fdmap[livefds[i]] == fid)
			return livefds[i];
	return -1;
}

/* After the file `fid` was released: its peer must see it.  Poll the
 * peer (plain poll(), which changes no instance state) for the sign; TCP's
 * FIN crosses loopback in a softirq, hence a timeout at all. */
static void settle_peer(int fid)
{
	int peer = F[fid].peer, pfd;
	short want;

	if (!peer || !F[peer].alive)
		return;
	pfd = fd_of(peer);
	switch (F[fid].kind) {
	case K_PIPE_W: want = POLLHUP; break;		/* reader: no writer */
	case K_PIPE_R: want = POLLERR; break;		/* writer: no reader */
	case K_UNIX: want = POLLHUP; break;
	case K_TCP: want = POLLRDHUP | POLLHUP | POLLERR; break;
	default: return;
	}
	struct pollfd p = { .fd = pfd, .events = POLLRDHUP };

	if (poll(&p, 1, 3000) < 0 || !(p.revents & want)) {
		errno = ETIMEDOUT;
		harness_error("peer did not see the close");
	}
	if (F[fid].kind == K_TCP)
		settle_tcp(peer);
}

/* ---- operations ---- */

static const uint32_t evbits[] = {
	EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, EPOLLRDNORM, EPOLLRDBAND,
	EPOLLWRNORM, EPOLLWRBAND, EPOLLERR, EPOLLHUP, EPOLLMSG,
};

static uint32_t random_events(bool add)
{
	uint32_t e = 0;

	for (unsigned int i = 0; i < sizeof(evbits) / sizeof(evbits[0]); i++)
		if (chance(i < 2 ? 60 : 20))
			e |= evbits[i];
	if (chance(35))
		e |= EPOLLET;
	if (chance(15))
		e |= EPOLLONESHOT;
	if (chance(add ? 4 : 1))
		e |= EPOLLEXCLUSIVE;
	if (chance(3))
		e |= EPOLLWAKEUP;
	if (chance(2))
		e |= 1u << (16 + rnd(10)); /* a bit no poll returns */
	return e;
}

static uint64_t make_data(int fid)
{
	return ((uint64_t)fid << 40) | (rnd64() & ((1ULL << 40) - 1));
}

static void op_user(int what);

static void op_ctl(void)
{
	int op = EPOLL_CTL_ADD + rnd(3), fd, fid, re, rx;
	uint32_t ev;
	uint64_t d;

	if (chance(12)) {
		op_user(0);
		return;
	}
	if (chance(5)) {
		/* numbers that are not live targets: closed, ours, stdio */
		int pick = rnd(4);

		/* -100: each instance's own fd (adding itself) */
		fd = pick == 0 ? (int)rnd(MAXFD / 8) : pick == 1 ? -1 :
		     pick == 2 ? 0 : -100;
	} else {
		fd = random_live_fd();
	}
	fid = fd >= 0 && fd < MAXFD ? fdmap[fd] : 0;
	/* mostly the op that can succeed: fewer EEXIST/ENOENT, more state */
	if (fid && chance(70))
		op = find_key(fid, fd) < 0 ? EPOLL_CTL_ADD :
		     chance(75) ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
	if (chance(2))
		op = rnd(6);
	ev = random_events(op == EPOLL_CTL_ADD);
	d = make_data(fid);
	logop("ctl op %d fd %d (%s fid %d) events %#x data %#" PRIx64, op, fd,
	      fid ? kname[F[fid].kind] : "-", fid, ev, d);
	if (!self_check && st.ctl % 5 == 4) {
		/*
		 * Every fifth change and a wait in one XPOLL_IOC_CTL_WAIT,
		 * against epoll_ctl() and epoll_wait() (issue 15).
		 */
		static struct epoll_event ee[NEV], xe[NEV];
		int ne, nx;

		re = e_ctl(op, fd == -100 ? ep : fd, ev, d);
		ne = epoll_wait(ep, ee, NEV, 0);
		rx = t_ctl_wait(op, fd == -100 ? xp : fd, ev, d, 0, 0, xe, NEV,
				&nx);
		st.ctl++;
		st.ctl_waits++;
		if (re != rx)
			fail("ctl+wait op %d fd %d events %#x: epoll %d (%s), xpoll %d (%s)",
			     op, fd, ev, re, strerror(-re), rx, strerror(-rx));
		compare_waits(ee, ne, xe, nx);
	} else {
		re = e_ctl(op, fd == -100 ? ep : fd, ev, d);
		rx = t_ctl(op, fd == -100 ? xp : fd, ev, d);
		st.ctl++;
	}
	if (re != rx)
		fail("ctl op %d fd %d events %#x: epoll %d (%s), xpoll %d (%s)",
		     op, fd, ev, re, strerror(-re), rx, strerror(-rx));
	if (re)
		st.ctl_err++;
	/* fid 0: stdio, which may be pollable; never closed by us */
	if (re == 0 && (fid || (fd >= 0 && fd <= 2))) {
		int k = find_key(fid, fd);

		if (op == EPOLL_CTL_ADD && k < 0 && nkeys < MAXKEYS)
			keys[nkeys++] = (struct key){ fid, fd };
		else if (op == EPOLL_CTL_DEL && k >= 0)
			keys[k] = keys[--nkeys];
	}
}

/* ---- user events ---- */

static void efd_drain(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, 8) < 0 && errno != EAGAIN)
		harness_error("eventfd read");
}

/*
 * What a user event's op is on an eventfd @efd in epoll instance @pfd:
 * ADD/MOD/DEL of the eventfd, TRIGGER a write of 1, CLEAR a read; the
 * model gives ENOENT for TRIGGER/CLEAR of a key not added.
 */
static int efd_user(int pfd, int efd, struct uslot *u, int op,
		    struct epoll_event *e)
{
	uint64_t one = 1;

	switch (op) {
	case EPOLL_CTL_ADD:
	case EPOLL_CTL_MOD:
	case EPOLL_CTL_DEL:
		return epoll_ctl(pfd, op, efd, e) < 0 ? -errno : 0;
	case XPOLL_CTL_TRIGGER:
		if (!u->added)
			return -ENOENT;
		if (write(efd, &one, 8) != 8)
			harness_error("eventfd write");
		return 0;
	case XPOLL_CTL_CLEAR:
		if (!u->added)
			return -ENOENT;
		efd_drain(efd);
		return 0;
	}
	return -EINVAL;
}

static int selfcheck_user(int op, uint64_t key, struct epoll_event *e)
{
	struct uslot *u = slot_of(key);

	return u ? efd_user(xp, u->efd2, u, op, e) : -ENOENT;
}

/*
 * One op on a user event: @what 0 ADD/MOD/DEL, 1 TRIGGER, 2 CLEAR, on
 * both sides; the results must be equal, then the model follows.
 */
static void op_user(int what)
{
	struct uslot *u = &U[rnd(NUSER)];
	uint32_t ev = EPOLLIN;
	int op, fd = -1, re, rx;
	uint64_t d = 0;

	if (what == 0) {
		op = EPOLL_CTL_ADD + rnd(3);
		if (chance(70))
			op = !u->added ? EPOLL_CTL_ADD :
			     chance(75) ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
		if (chance(35))
			ev |= EPOLLET;
		if (chance(20))
			ev |= EPOLLONESHOT;
		if (chance(op == EPOLL_CTL_ADD ? 4 : 1))
			ev |= EPOLLEXCLUSIVE;
		d = make_data(u->fid);
	} else {
		op = what == 1 ? XPOLL_CTL_TRIGGER : XPOLL_CTL_CLEAR;
		/* the instance named by -1, or now and then by its own fd */
		if (chance(20))
			fd = xp;
	}
	logop("user %s key %#" PRIx64 " (fid %d%s) events %#x data %#" PRIx64
	      " fd %d", op == XPOLL_CTL_TRIGGER ? "TRIGGER" :
	      op == XPOLL_CTL_CLEAR ? "CLEAR" : op == EPOLL_CTL_ADD ? "ADD" :
	      op == EPOLL_CTL_MOD ? "MOD" : "DEL", u->key, u->fid,
	      u->added ? "" : ", not added", ev, d, fd);
	if (!self_check && st.ctl % 5 == 4) {
		/* the change and a wait in one XPOLL_IOC_CTL_WAIT */
		static struct epoll_event ee[NEV], xe[NEV];
		struct epoll_event e = { .events = ev, .data.u64 = d };
		int ne, nx;

		re = efd_user(ep, u->efd, u, op, &e);
		ne = epoll_wait(ep, ee, NEV, 0);
		rx = t_ctl_wait(op, fd, ev, d, XPOLL_CTL_USER, u->key, xe, NEV,
				&nx);
		st.ctl_waits++;
		if (re != rx)
			fail("user ctl+wait op %d key %#" PRIx64 " events %#x: epoll "
			     "(eventfd) %d (%s), xpoll %d (%s)", op, u->key, ev,
			     re, strerror(-re), rx, strerror(-rx));
		compare_waits(ee, ne, xe, nx);
	} else {
		struct epoll_event e = { .events = ev, .data.u64 = d };

		re = efd_user(ep, u->efd, u, op, &e);
		rx = t_ctlx(op, fd, ev, d, XPOLL_CTL_USER, u->key);
	}
	st.ctl++;
	if (what == 0)
		st.uctl++;
	else if (what == 1)
		st.utrig++;
	else
		st.uclear++;
	if (re != rx)
		fail("user op %d key %#" PRIx64 " events %#x: epoll (eventfd) %d "
		     "(%s), %s %d (%s)", op, u->key, ev, re, strerror(-re),
		     self_check ? "epoll2" : "xpoll", rx, strerror(-rx));
	if (re) {
		st.ctl_err++;
		st.uerr++;
		return;
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		u->added = true;
		/* fall through */
	case EPOLL_CTL_MOD:
		u->events = ev;
		break;
	case EPOLL_CTL_DEL:
		/* a user event is empty at its next ADD: so is the eventfd */
		u->added = false;
		efd_drain(u->efd);
		efd_drain(u->efd2);
		break;
	}
}

static int ev_cmp(const void *a, const void *b)
{
	const struct epoll_event *x = a, *y = b;

	if (x->data.u64 != y->data.u64)
		return x->data.u64 < y->data.u64 ? -1 : 1;
	return (x->events > y->events) - (x->events < y->events);
}

static void print_set(const char *who, struct epoll_event *ev, int n)
{
	printf("# %s: %d event(s)\n", who, n);
	for (int i = 0; i < n; i++) {
		int fid = (int)(ev[i].data.u64 >> 40);

		printf("#   events %#06x data %#" PRIx64 " (fid %d %s%s)\n",
		       ev[i].events, (uint64_t)ev[i].data.u64, fid,
		       fid < nfiles ? kname[F[fid].kind] : "?",
		       fid < nfiles && !F[fid].alive ? ", closed" : "");
	}
}

static void op_wait(void)
{
	static struct epoll_event ee[NEV], xe[NEV];
	int ne, nx;

	logop("wait");
	ne = epoll_wait(ep, ee, NEV, 0);
	nx = t_wait(xe, NEV);
	compare_waits(ee, ne, xe, nx);
}

/* The events of one wait on each, which must be the same set. */
static void compare_waits(struct epoll_event *ee, int ne,
			  struct epoll_event *xe, int nx)
{
	st.waits++;
	if (ne < 0 || nx < 0)
		fail("wait failed: epoll %d, xpoll %d (%s)", ne, nx, strerror(-nx));
	/* A closed file reports nothing, in either. */
	for (int i = 0; i < ne + nx; i++) {
		struct epoll_event *e = i < ne ? &ee[i] : &xe[i - ne];
		int fid = (int)(e->data.u64 >> 40);

		if (fid < nfiles && fid && !F[fid].alive) {
			print_set(i < ne ? "epoll" : "xpoll", i < ne ? ee : xe,
				  i < ne ? ne : nx);
			fail("%s reported an event of a closed file (fid %d)",
			     i < ne ? "epoll" : "xpoll", fid);
		}
	}
	qsort(ee, ne, sizeof(ee[0]), ev_cmp);
	qsort(xe, nx, sizeof(xe[0]), ev_cmp);
	if (ne != nx || memcmp(ee, xe, sizeof(ee[0]) * ne)) {
		print_set("epoll", ee, ne);
		print_set(self_check ? "epoll2" : "xpoll", xe, nx);
		fail("wait results differ");
	}
	st.events += ne;
	st.waits_nonempty += ne > 0;
	for (int i = 0; i < ne; i++) {
		int fid = (int)(ee[i].data.u64 >> 40);

		st.uevents += fid < nfiles && F[fid].kind == K_USER;
	}
}

static char buf[1 << 16];

static void tcp_wait_arrival(int fid)
{
	int peer = F[fid].peer, pfd, q = -1;
	int64_t t0 = now_ns();

	if (!peer || !F[peer].alive)
		return;
	pfd = fd_of(peer);
	while (now_ns() - t0 < 5000000000LL) {
		if (ioctl(pfd, SIOCINQ, &q) == 0 && q >= F[peer].inq)
			return;
		sleep_us(200);
	}
	errno = ETIMEDOUT;
	harness_error("TCP data did not arrive");
}

static void op_write(void)
{
	int fd, fid;
	ssize_t r = 0;
	size_t n;

	if (chance(18)) {
		op_user(1);
		return;
	}
	fd = random_live_fd();
	if (fd < 0)
		return;
	fid = fdmap[fd];
	switch (F[fid].kind) {
	case K_PIPE_W:
	case K_UNIX:
		n = chance(50) ? 1 + rnd(100) : chance(80) ? 1 + rnd(8192) : sizeof(buf);
		r = write(fd, buf, n);
		logop("write %s fd %d %zu -> %zd", kname[F[fid].kind], fd, n, r);
		break;
	case K_EFD: {
		uint64_t v = chance(95) ? 1 + rnd(3) : 0xfffffffffffffff0ULL;

		r = write(fd, &v, 8);
		logop("write eventfd fd %d %#" PRIx64 " -> %zd", fd, v, r);
		break;
	}
	case K_TCP: {
		int peer = F[fid].peer;

		if (F[fid].shut_wr || !peer || !F[peer].alive || F[peer].inq > 32768)
			return;
		n = 1 + rnd(512);
		r = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		logop("write tcp fd %d %zu -> %zd", fd, n, r);
		if (r > 0) {
			F[peer].inq += r;
			tcp_wait_arrival(fid);
		}
		break;
	}
	case K_TFD: {
		struct itimerspec its = { 0 };
		int how = rnd(3);

		if (how == 0) {	/* already expired */
			its.it_value.tv_nsec = 1;
			r = timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (r == 0 && (poll(&p, 1, 3000) != 1))
				harness_error("expired timer did not fire");
		} else if (how == 1) {	/* far future */
			its.it_value.tv_sec = 100000;
			r = timerfd_settime(fd, 0, &its, NULL);
		} else {	/* disarm */
			r = timerfd_settime(fd, 0, &its, NULL);
		}
		logop("timerfd fd %d %s -> %zd", fd,
		      how == 0 ? "expired" : how == 1 ? "future" : "disarm", r);
		break;
	}
	case K_SFD: {
		int s = sigs[rnd(3)];

		r = kill(getpid(), s);
		logop("raise signal %d (signalfd fd %d) -> %zd", s, fd, r);
		break;
	}
	default:
		return;
	}
}

static void op_read(void)
{
	int fd, fid;
	ssize_t r;
	size_t n;

	if (chance(15)) {
		op_user(2);
		return;
	}
	fd = random_live_fd();
	if (fd < 0)
		return;
	fid = fdmap[fd];
	switch (F[fid].kind) {
	case K_PIPE_R:
	case K_UNIX:
	case K_TCP:
		n = chance(50) ? 1 + rnd(100) : chance(70) ? 1 + rnd(8192) : sizeof(buf);
		r = recv(fd, buf, n, MSG_DONTWAIT);
		if (r < 0 && errno == ENOTSOCK)
			r = read(fd, buf, n);
		if (F[fid].kind == K_TCP && r > 0)
			F[fid].inq -= r;
		break;
	case K_EFD:
	case K_TFD:
		n = 8;
		r = read(fd, buf, 8);
		break;
	case K_SFD:
		n = sizeof(struct signalfd_siginfo);
		r = read(fd, buf, n);
		break;
	default:
		return;
	}
	logop("read %s fd %d %zu -> %zd", kname[F[fid].kind], fd, n, r);
}

static void op_shutdown(void)
{
	int fd = random_live_fd(), fid, how, r;

	if (fd < 0)
		return;
	fid = fdmap[fd];
	if (F[fid].kind == K_UNIX) {
		how = rnd(3);
	} else if (F[fid].kind == K_TCP) {
		how = SHUT_WR;
	} else {
		return;
	}
	r = shutdown(fd, how);
	logop("shutdown %s fd %d how %d -> %d", kname[F[fid].kind], fd, how, r);
	if (F[fid].kind == K_TCP) {
		F[fid].shut_wr = true;
		settle_tcp(fid);
	}
}

static void op_dup(void)
{
	int fd = random_live_fd(), d;

	if (fd < 0 || nlive >= LIVE_FDS)
		return;
	d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	logop("dup fd %d -> %d", fd, d);
	if (d < 0 || d >= MAXFD)
		harness_error("dup");
	fdmap[d] = fdmap[fd];
	livefds[nlive++] = d;
	F[fdmap[fd]].nfd++;
}

static void op_close(void)
{
	int fd = random_live_fd(), fid, k;
	bool clean = chance(30), dirty;

	if (fd < 0)
		return;
	fid = fdmap[fd];
	if (clean && find_key(fid, fd) >= 0) {
		int re = e_ctl(EPOLL_CTL_DEL, fd, 0, 0), rx = t_ctl(EPOLL_CTL_DEL, fd, 0, 0);

		logop("del before close fd %d -> %d %d", fd, re, rx);
		if (re != rx)
			fail("del before close: epoll %d xpoll %d", re, rx);
		/* Found first: "keys[find_key()] = keys[--nkeys]" may not. */
		k = find_key(fid, fd);
		keys[k] = keys[--nkeys];
	}
	close(fd);
	drop_fd(fd);
	st.closes++;
	if (--F[fid].nfd > 0) {
		logop("close fd %d (%s fid %d, %d fd(s) left)", fd,
		      kname[F[fid].kind], fid, F[fid].nfd);
		return;
	}
	F[fid].alive = false;
	dirty = file_has_keys(fid);
	st.dirty += dirty;
	logop("close fd %d: last of %s fid %d%s", fd, kname[F[fid].kind], fid,
	      dirty ? " (still watched)" : "");
	if (dirty)
		check_released();
	else
		forget_dead_keys();
	if (F[fid].peer && F[F[fid].peer].alive)
		settle_peer(fid);
}

static void tcp_make(int sv[2])
{
	static int l = -1;
	static struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1, big = 1 << 20;

	if (l < 0) {
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(l, 8) || getsockname(l, (struct sockaddr *)&sa, &len))
			harness_error("listen");
		/* keep it above the fds the test plays with */
		int hi = fcntl(l, F_DUPFD_CLOEXEC, MAXFD);

		if (hi < 0)
			harness_error("dup listener");
		close(l);
		l = hi;
	}
	sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0)
		harness_error("socket");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (connect(sv[0], (struct sockaddr *)&sa, sizeof(sa)))
		harness_error("connect");
	sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (sv[1] < 0)
		harness_error("accept");
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
}

static void op_create(void)
{
	int kind = rnd(K_NKIND), fds[2], a, b;
	sigset_t m;

	if (nlive + 2 > LIVE_FDS || nfiles + 2 >= MAXF)
		return;
	int files = 0;

	for (int i = 1; i < nfiles; i++)
		files += F[i].alive;
	if (files + 2 > LIVE_FILES)
		return;
	switch (kind) {
	case K_PIPE_R:
	case K_PIPE_W:
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
			harness_error("pipe");
		a = new_file(K_PIPE_R, fds[0]);
		b = new_file(K_PIPE_W, fds[1]);
		F[a].peer = b;
		F[b].peer = a;
		break;
	case K_EFD:
		new_file(K_EFD, eventfd(rnd(2), EFD_NONBLOCK | EFD_CLOEXEC |
					(chance(30) ? EFD_SEMAPHORE : 0)));
		return;
	case K_UNIX:
	case K_TCP:
		if (kind == K_UNIX) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
				       SOCK_CLOEXEC, 0, fds))
				harness_error("socketpair");
		} else {
			tcp_make(fds);
		}
		a = new_file(kind, fds[0]);
		b = new_file(kind, fds[1]);
		F[a].peer = b;
		F[b].peer = a;
		logop("create %s fds %d %d", kname[kind], fds[0], fds[1]);
		return;
	case K_TFD:
		new_file(K_TFD, timerfd_create(CLOCK_MONOTONIC,
					       TFD_NONBLOCK | TFD_CLOEXEC));
		break;
	case K_SFD:
		sigemptyset(&m);
		for (int i = 0; i < 3; i++)
			if (chance(60))
				sigaddset(&m, sigs[i]);
		new_file(K_SFD, signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC));
		break;
	}
	logop("create %s", kname[kind]);
}

/* ---- fdinfo: both instances list the same items ---- */

struct fline { int tfd; unsigned int events; unsigned long long data, pos, ino;
	       unsigned int sdev; };

static int fl_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct fline));
}

/* A user event's line; on the epoll side, its eventfd's "tfd:" line. */
struct uline { unsigned long long key, data; unsigned int events, pending; };

static int ul_cmp(const void *a, const void *b)
{
	const struct uline *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* An eventfd's count (its own fdinfo) as a user event's pending bits. */
static unsigned int efd_pending(int efd)
{
	char path[64], line[256];
	unsigned long long cnt = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", efd);
	f = fopen(path, "re");
	if (!f)
		harness_error("eventfd fdinfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "eventfd-count: %llx", &cnt) == 1)
			found = true;
	fclose(f);
	if (!found) {
		errno = EPROTO;
		harness_error("eventfd-count not in the eventfd's fdinfo");
	}
	return cnt ? EPOLLIN : 0;
}

static struct uslot *slot_of_efd(int tfd, bool second)
{
	for (int i = 0; i < NUSER; i++)
		if ((second ? U[i].efd2 : U[i].efd) == tfd)
			return &U[i];
	return NULL;
}

/*
 * The items of an instance: files in @fl, user events in @ul (*@nul of
 * them): "uev:" lines, or the "tfd:" lines of the slots' eventfds (efd,
 * or with @second efd2) with the eventfd's count as the pending bits.
 */
static int read_fdinfo(int pfd, bool second, struct fline *fl, int max,
		       struct uline *ul, int *nul, char *raw, size_t rawlen)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pfd);
	f = fopen(path, "re");
	if (!f)
		harness_error("fdinfo");
	raw[0] = 0;
	*nul = 0;
	while (fgets(line, sizeof(line), f)) {
		struct fline x;
		struct uslot *u;

		if (strlen(raw) + strlen(line) + 3 < rawlen)
			sprintf(raw + strlen(raw), "#   %s", line);
		if (!strncmp(line, "uev:", 4)) {
			struct uline y = { 0 };

			if (*nul >= NUSER)
				break;
			if (sscanf(line, "uev: %llx events: %x data: %llx pending: %x",
				   &y.key, &y.events, &y.data, &y.pending) != 4) {
				fclose(f);
				return -1;
			}
			ul[(*nul)++] = y;
			continue;
		}
		if (strncmp(line, "tfd:", 4))
			continue;
		if (n >= max)
			break;
		memset(&x, 0, sizeof(x));
		if (sscanf(line, "tfd: %d events: %x data: %llx pos:%llu ino:%llx sdev:%x",
			   &x.tfd, &x.events, &x.data, &x.pos, &x.ino, &x.sdev) != 6) {
			fclose(f);
			return -1;
		}
		u = slot_of_efd(x.tfd, second);
		if (u && *nul < NUSER) {
			ul[(*nul)++] = (struct uline){ .key = u->key,
				.data = x.data, .events = x.events,
				.pending = efd_pending(x.tfd) };
			continue;
		}
		fl[n++] = x;
	}
	fclose(f);
	return n;
}

/*
 * A user event's interest as fdinfo lists it (@x) against its eventfd's
 * in epoll (@e).  The uapi says "events: <interest>" and no more, so two
 * forms besides epoll's own are taken (and noted once): without
 * EPOLLERR | EPOLLHUP, and, for a one-shot event that fired, the
 * interest as set (epoll keeps only the mode bits of a disarmed item).
 */
#define EP_MODE_BITS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
static bool uev_events_agree(unsigned int e, unsigned int x, const struct uslot *u)
{
	static bool noted;
	bool ok;

	if (x == e)
		return true;
	ok = (x | EPOLLERR | EPOLLHUP) == (e | EPOLLERR | EPOLLHUP) ||
	     (u && !(e & ~EP_MODE_BITS) && (u->events & EPOLLONESHOT) &&
	      (x & ~(EPOLLERR | EPOLLHUP)) == (u->events & ~(EPOLLERR | EPOLLHUP)));
	if (ok && !noted) {
		printf("# note: fdinfo lists a user event's interest as %#x where "
		       "epoll lists its eventfd's as %#x (accepted)\n", x, e);
		noted = true;
	}
	return ok;
}

static void check_fdinfo(void)
{
	static struct fline a[MAXKEYS], b[MAXKEYS];
	static char ra[1 << 18], rb[1 << 18];
	struct uline ua[NUSER], ub[NUSER];
	int na, nb, nua, nub;

	check_released();
	st.fdinfo_checks++;
	logop("fdinfo check (%d items, %d user events)", nkeys, nuser_added());
	na = read_fdinfo(ep, false, a, MAXKEYS, ua, &nua, ra, sizeof(ra));
	nb = read_fdinfo(xp, true, b, MAXKEYS, ub, &nub, rb, sizeof(rb));
	if (na < 0 || nb < 0 || na != nb) {
		printf("# epoll fdinfo:\n%s# xpoll fdinfo:\n%s", ra, rb);
		fail("fdinfo differs (%d vs %d items, or unparsable)", na, nb);
	}
	qsort(a, na, sizeof(a[0]), fl_cmp);
	qsort(b, nb, sizeof(b[0]), fl_cmp);
	for (int i = 0; i < na; i++)
		if (fl_cmp(&a[i], &b[i])) {
			printf("# epoll fdinfo:\n%s# xpoll fdinfo:\n%s", ra, rb);
			fail("fdinfo item differs: epoll tfd %d events %#x data %#llx, "
			     "xpoll tfd %d events %#x data %#llx", a[i].tfd,
			     a[i].events, a[i].data, b[i].tfd, b[i].events, b[i].data);
		}
	if (nua != nub || nua != nuser_added()) {
		printf("# epoll fdinfo:\n%s# xpoll fdinfo:\n%s", ra, rb);
		fail("fdinfo: %d user events' eventfds in epoll, %d user events in "
		     "xpoll, %d added", nua, nub, nuser_added());
	}
	qsort(ua, nua, sizeof(ua[0]), ul_cmp);
	qsort(ub, nub, sizeof(ub[0]), ul_cmp);
	for (int i = 0; i < nua; i++)
		if (ua[i].key != ub[i].key || ua[i].data != ub[i].data ||
		    ua[i].pending != ub[i].pending ||
		    !uev_events_agree(ua[i].events, ub[i].events, slot_of(ua[i].key))) {
			printf("# epoll fdinfo:\n%s# xpoll fdinfo:\n%s", ra, rb);
			fail("fdinfo user event differs: epoll (eventfd) key %#llx "
			     "events %#x data %#llx pending %#x, xpoll key %#llx "
			     "events %#x data %#llx pending %#x", ua[i].key,
			     ua[i].events, ua[i].data, ua[i].pending, ub[i].key,
			     ub[i].events, ub[i].data, ub[i].pending);
		}
}

/* An eventfd at a number at least @min, out of the targets' way. */
static int high_eventfd(int min)
{
	int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), h;

	if (e < 0)
		harness_error("eventfd");
	h = fcntl(e, F_DUPFD_CLOEXEC, min);
	if (h < 0)
		harness_error("dup eventfd");
	close(e);
	return h;
}

static void make_user_slots(void)
{
	for (int i = 0; i < NUSER; i++) {
		bool dup;

		U[i].fid = nfiles++;
		F[U[i].fid] = (struct fobj){ .kind = K_USER, .alive = true };
		U[i].efd = high_eventfd(MAXFD + 40);
		U[i].efd2 = self_check ? high_eventfd(MAXFD + 60) : -1;
		/* half of them numbers the targets' fds use too */
		do {
			U[i].key = i % 2 ? rnd64() : rnd(64);
			dup = false;
			for (int j = 0; j < i; j++)
				dup |= U[j].key == U[i].key;
		} while (dup);
	}
}

int main(int argc, char **argv)
{
	long ops = 100000;
	uint64_t seed = 0;
	bool have_seed = false;
	sigset_t m;
	int64_t t0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			ops = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			have_seed = true;
		} else if (!strcmp(argv[i], "--self-check")) {
			self_check = true;
		} else if (!strcmp(argv[i], "--mutate")) {
			mutate = true;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = true;
		} else {
			fprintf(stderr, "usage: %s [--ops N] [--seed S] "
				"[--self-check] [-v]\n", argv[0]);
			return 2;
		}
	}
	if (!have_seed)
		seed = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
	rng = seed ? seed : 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..1\n");
	printf("# seed: %" PRIu64 " ops: %ld\n", seed, ops);
	printf("# replay: %s --seed %" PRIu64 " --ops %ld%s\n", argv[0], seed, ops,
	       self_check ? " --self-check" : "");

	sigs[0] = SIGUSR1;
	sigs[1] = SIGUSR2;
	sigs[2] = SIGRTMIN + 1;
	sigemptyset(&m);
	for (int i = 0; i < 3; i++)
		sigaddset(&m, sigs[i]);
	sigprocmask(SIG_BLOCK, &m, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 'x', sizeof(buf));

	/* the instances sit above the numbers the targets use */
	ep = epoll_create1(EPOLL_CLOEXEC);
	xp = self_check ? epoll_create1(EPOLL_CLOEXEC) : open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	if (xp < 0 && !self_check) {
		printf("ok 1 # SKIP xpoll_diff: %s: %s (module not loaded?)\n",
		       XPOLL_DEVICE, strerror(errno));
		return 0;
	}
	if (ep < 0 || xp < 0)
		harness_error("instances");
	/* above every target number, below the usual RLIMIT_NOFILE of 1024 */
	ep = fcntl(ep, F_DUPFD_CLOEXEC, MAXFD + 10);
	xp = fcntl(xp, F_DUPFD_CLOEXEC, MAXFD + 20);
	if (ep < 0 || xp < 0)
		harness_error("move instances");
	close(3);
	close(4);

	F[0] = (struct fobj){ .kind = K_NKIND, .alive = true };
	make_user_slots();
	t0 = now_ns();
	for (op_no = 0; op_no < ops; op_no++) {
		unsigned int r = rnd(100);

		if (r < 4)
			op_create();
		else if (r < 36)
			op_ctl();
		else if (r < 52)
			op_write();
		else if (r < 66)
			op_read();
		else if (r < 84)
			op_wait();
		else if (r < 88)
			op_dup();
		else if (r < 94)
			op_close();
		else if (r < 95)
			op_shutdown();
		else
			op_wait();
		if (op_no % 5000 == 4999)
			check_fdinfo();
	}
	check_fdinfo();
	printf("# %ld ops in %.1f s: %ld ctl (%ld errors, %ld with a wait in one "
	       "XPOLL_IOC_CTL_WAIT), %ld waits (%ld with events, %ld events), "
	       "%ld closes (%ld of watched files), %ld fdinfo checks, %ld "
	       "release checks\n", ops, (now_ns() - t0) / 1e9, st.ctl,
	       st.ctl_err, st.ctl_waits, st.waits, st.waits_nonempty, st.events,
	       st.closes, st.dirty, st.fdinfo_checks, st.settles);
	printf("# user events: %ld ADD/MOD/DEL, %ld TRIGGER, %ld CLEAR (%ld "
	       "errors), %ld of the events\n", st.uctl, st.utrig, st.uclear,
	       st.uerr, st.uevents);
	printf("ok 1 xpoll_diff: epoll and %s agree (seed %" PRIu64 ", %ld ops)\n",
	       self_check ? "a second epoll" : "xpoll", seed, ops);
	return 0;
}
