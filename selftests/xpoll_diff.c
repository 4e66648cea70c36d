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
 * Ring mode (test 2; XPOLL_FEAT_RING): the instance under test is a ring
 * instance (XPOLL_IOC_RING_SETUP, mmap), and every item, in it and in
 * epoll, is EPOLLET.  A wait is a harvest: epoll_wait() with timeout 0 on
 * epoll, then this test's own consumer takes the ring (the uapi's
 * protocol, overflow recovery included) with no system call.  The rule
 * (uapi/linux/xpoll.h, "Against epoll ET"):
 *  - every event epoll reports is harvested, with the same data;
 *  - every harvested event is of a current item, with its current data,
 *    once per harvest, bits inside the item's interest sets since the
 *    last harvest (| ERR | HUP), and a readiness that really happened
 *    since the last harvest: after every operation a poll() of every
 *    live target (and of the user events' eventfds) is ORed into the
 *    model, and a harvested event must share a bit with it.  Wakers
 *    that pass no bits (a socket's state change, a signalfd's signal)
 *    report the interest set: for sockets a shutdown or close of the
 *    pair, for signalfds a signal raised, since the last harvest, also
 *    count;
 *  - after a harvest no slot holds ready bits that no index or overflow
 *    points to; indices are < entries; tail - head <= entries;
 *  - XPOLL_IOC_WAIT (events 0, timeout 0) and poll() of the instance
 *    report the number of indices in the ring (1 for an empty ring with
 *    overflow set); a WAIT or CTL_WAIT with events or min_events set
 *    fails with EINVAL;
 *  - ADD/MOD without EPOLLET or with EPOLLWAKEUP fail (EINVAL where the
 *    change is otherwise valid); the ADD past @entries items fails with
 *    ENOSPC, and items of closed files give their slot back;
 *  - fdinfo as in the plain mode (a one-shot item's interest may show
 *    disarmed on one side only: epoll disarms when it reports, the ring
 *    when it appends).
 * The ring is small (--ring-entries, 64) so that ENOSPC is reached; now
 * and then harvests pause for a stretch of operations, or the mapping's
 * head is made hostile for one, so the ring overflows and the consumer
 * recovers through the slots; the mapping is unmapped and mapped again.
 * A one-shot item whose arm the ring spent on a readiness that was gone
 * by the harvest (epoll, which re-polls, kept it armed) is counted, not
 * failed: see the note it prints.
 *
 * Usage: xpoll_diff [--ops N] [--seed S] [--self-check] [--mutate] [-v]
 *                   [--ring | --no-ring] [--ring-ops N] [--ring-entries N]
 * Without --ring / --no-ring both tests run: 1 the plain mode (--ops,
 * 100,000), 2 the ring mode (--ring-ops, 3,000); --ring runs only the
 * ring mode (--ops then sets its operations).  Each runs in a child
 * process of its own.
 * --mutate drops EPOLLONESHOT from the tested instance's ctl calls; in
 * ring mode the consumer skips every 100th index instead: the run must
 * then fail (proof that a difference is caught).
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
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
	/* ring mode: since the last harvest */
	uint32_t seen;	/* poll() bits seen after any operation */
	bool stchg;	/* socket: a shutdown or close of the pair */
	bool spur;	/* pipe writer: a read of its reader (see ring_real) */
};

/*
 * An item: the file and the fd it was added with.  Ring mode also keeps
 * its interest set and data (as the last ADD or MOD), the union of its
 * interest sets since the last harvest, whether the ring spent its
 * EPOLLONESHOT arm since that ADD or MOD, and the slot it was seen in.
 */
struct key {
	int fid, fd;
	uint32_t events, ihist;
	uint64_t data;
	bool spent;
	int slot;
};

static struct fobj F[MAXF];
static int nfiles = 1;		/* fid 0 means "no file" */
static int fdmap[MAXFD];	/* fd -> fid */
static int livefds[MAXFD], nlive;
static struct key keys[MAXKEYS];
static int nkeys;
static int ep, xp;		/* the reference and the instance under test */
static bool self_check, verbose, mutate;
static int tnum = 1;		/* this process's TAP test number */
static bool ring_mode;		/* test 2: xp is a ring instance */
static bool tolerate_errhup;	/* --ring-tolerate-errhup */
static uint64_t rng;
static long op_no;
static int sigs[3];

static struct {
	long ctl, ctl_err, ctl_waits, waits, waits_nonempty, events, closes,
	     dirty, fdinfo_checks, settles, uctl, utrig, uclear, uerr,
	     uevents;
	/* ring mode */
	long harvests, rev, extras, spent_oneshot, overflows, ovf_scan_events,
	     enospc, refused, refused_einval, remaps, hostile, droughts,
	     wait_checks, bad_wait_checks, ctlwait_applied, nosig_extras,
	     stchg_extras, spur_extras, key_extras, errhup, skipped_idx;
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
	/* ring mode, as struct key's */
	uint32_t ihist;
	uint64_t data;
	bool spent;
	int slot;
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
	printf("not ok %d xpoll_diff: epoll and %s agree\n", tnum,
	       self_check ? "a second epoll" : ring_mode ?
	       "a ring instance (EPOLLET)" : "xpoll");
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
	if (mutate && !ring_mode && (events & EPOLLONESHOT))
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

	if (mutate && !ring_mode && (events & EPOLLONESHOT))
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
	/* ring mode: nearly always, else the ring must refuse it */
	if (ring_mode && chance(96))
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

/* ---- ring mode: the mapping, this test's consumer, the model ---- */

#define EP_MODE_BITS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
#define POLL_ALL (POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLRDBAND | \
		  POLLWRNORM | POLLWRBAND | POLLMSG | POLLRDHUP)

static void efd_drain(int fd);
static int efd_user(int pfd, int efd, struct uslot *u, int op,
		    struct epoll_event *e);

static unsigned int ring_entries = 64;
static struct {
	void *map;
	struct xpoll_ring_hdr *hdr;
	struct xpoll_ring_slot *slots;
	uint32_t *ring;
	size_t size;
	uint32_t slots_off, ring_off;
	uint32_t head;		/* ours; hdr->head is its published copy */
	long taken;		/* indices taken, counted for --mutate */
	long drought_end;	/* no harvest before this operation */
	bool hostile;		/* hdr->head is hostile until the next harvest */
	bool sig_raised;	/* a signal raised since the last harvest */
	struct epoll_event *ev;	/* a harvest's events ... */
	int *slot;		/* ... and the slot each came from */
	bool gap;		/* ring_probe_gap() found the ERR/HUP gap */
	char gap_msg[256];
} R;

/* One item of the model, a file's (struct key) or a user event's. */
struct itemref {
	int fid;
	uint32_t *events, *ihist;
	uint64_t *data;
	bool *spent;
	int *slot;
};

static bool ring_item_of(uint64_t data, struct itemref *r)
{
	for (int i = 0; i < nkeys; i++)
		if (F[keys[i].fid].alive && keys[i].data == data) {
			*r = (struct itemref){ keys[i].fid, &keys[i].events,
				&keys[i].ihist, &keys[i].data, &keys[i].spent,
				&keys[i].slot };
			return true;
		}
	for (int i = 0; i < NUSER; i++)
		if (U[i].added && U[i].data == data) {
			*r = (struct itemref){ U[i].fid, &U[i].events,
				&U[i].ihist, &U[i].data, &U[i].spent, &U[i].slot };
			return true;
		}
	return false;
}

static int ring_items(void)
{
	return live_keys() + nuser_added();
}

static uint32_t ring_tail(void)
{
	return __atomic_load_n(&R.hdr->tail, __ATOMIC_ACQUIRE);
}

/* What a WAIT (events 0, timeout 0) of @max must return now. */
static int ring_wait_want(int max)
{
	uint32_t n = ring_tail() - R.head;

	if (n > ring_entries)
		fail("the ring's tail %u is %u indices past its head %u: more "
		     "than its %u entries", ring_tail(), n, R.head, ring_entries);
	if (!n)
		return __atomic_load_n(&R.hdr->overflow, __ATOMIC_ACQUIRE) ? 1 : 0;
	return (int)n < max ? (int)n : max;
}

/*
 * The wait side of a ring instance: WAIT with events 0 returns the
 * number of indices (at most maxevents; 1 for an empty ring with
 * overflow), poll() says EPOLLIN on the same condition; now and then
 * a WAIT with events or min_events set must fail with EINVAL.
 */
static void ring_wait_check(void)
{
	static struct epoll_event evbuf[4];
	struct xpoll_wait w = { .maxevents = 1 + (int)rnd(ring_entries + 8) };
	struct pollfd p = { .fd = xp, .events = POLLIN };
	int want, n, pr;

	/* Items a wakeup without bits left for a re-poll: posted first. */
	if (__atomic_load_n(&R.hdr->repoll, __ATOMIC_ACQUIRE)) {
		struct xpoll_wait rw = { .maxevents = 1 };

		ioctl(xp, XPOLL_IOC_WAIT, &rw);
	}
	want = ring_wait_want(w.maxevents);
	n = ioctl(xp, XPOLL_IOC_WAIT, &w);
	if (n != want)
		fail("WAIT (events 0, maxevents %d, timeout 0) on the ring instance "
		     "returned %d (%s), want %d: tail %u head %u overflow %u",
		     w.maxevents, n, n < 0 ? strerror(errno) : "-", want,
		     ring_tail(), R.head, R.hdr->overflow);
	pr = poll(&p, 1, 0);
	if (pr != (want > 0) || (want > 0 && !(p.revents & POLLIN)))
		fail("poll() of the ring instance gave %d revents %#x with %d "
		     "indices (overflow %u)", pr, p.revents, want,
		     R.hdr->overflow);
	st.wait_checks++;
	if (!chance(10))
		return;
	w = (struct xpoll_wait){ .maxevents = 4 };
	if (chance(50))
		w.events = (uintptr_t)evbuf;
	else
		w.min_events = 1;
	n = ioctl(xp, XPOLL_IOC_WAIT, &w);
	st.bad_wait_checks++;
	if (n >= 0 || errno != EINVAL)
		fail("WAIT on the ring instance with %s set returned %d (%s), not EINVAL",
		     w.events ? "events" : "min_events", n,
		     n < 0 ? strerror(errno) : "success");
}

/*
 * A change on the ring instance: as t_ctlx() (CTL, or a one-change
 * BATCH), and every fifth through CTL_WAIT, whose wait (events 0,
 * timeout 0) returns the ring's count; one in ten of those asks for
 * events or min_events, which must fail with EINVAL with nothing applied.
 */
static int ring_ctl(int op, int fd, uint32_t events, uint64_t data,
		    uint32_t flags, uint64_t key)
{
	static struct epoll_event evbuf[4];
	static bool noted;
	struct xpoll_ctl c = { .op = (uint32_t)op, .fd = fd, .events = events,
			       .data = data, .flags = flags, .key = key };
	int32_t res = 1;
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)&c, .results = (uintptr_t)&res, .nr = 1,
		.nr_done = 0xdead,
		.wait = { .maxevents = 1 + (int)rnd(ring_entries + 8) },
	};
	int n, bad;

	if (st.ctl % 5 != 4)
		return t_ctlx(op, fd, events, data, flags, key);
	st.ctl_waits++;
	bad = chance(10) ? 1 + (int)rnd(2) : 0;
	if (bad == 1)
		cw.wait.events = (uintptr_t)evbuf;
	else if (bad == 2)
		cw.wait.min_events = 1;
	n = ioctl(xp, XPOLL_IOC_CTL_WAIT, &cw);
	if (bad) {
		st.bad_wait_checks++;
		if (n >= 0 || errno != EINVAL)
			fail("CTL_WAIT on the ring instance with %s set returned %d "
			     "(%s), not EINVAL", bad == 1 ? "events" : "min_events",
			     n, n < 0 ? strerror(errno) : "success");
		if (cw.nr_done == 1 && res != 1) {
			/* applied, then refused: counted, see the report */
			st.ctlwait_applied++;
			if (!noted)
				printf("# note: CTL_WAIT refused for its wait's %s "
				       "applied its change first (nr_done 1)\n",
				       bad == 1 ? "events" : "min_events");
			noted = true;
			return res;
		}
		return t_ctlx(op, fd, events, data, flags, key);
	}
	if (n < 0 || cw.nr_done != 1)
		fail("CTL_WAIT of one change on the ring instance returned %d (%s), "
		     "nr_done %u", n, n < 0 ? strerror(errno) : "-", cw.nr_done);
	if (!R.hostile && n != ring_wait_want(cw.wait.maxevents))
		fail("CTL_WAIT's wait (events 0, maxevents %d) on the ring instance "
		     "returned %d, want %d", cw.wait.maxevents, n,
		     ring_wait_want(cw.wait.maxevents));
	return res;
}

/* A change the ring must refuse: ADD/MOD without EPOLLET or with EPOLLWAKEUP. */
static void ring_refused(int op, int fd, uint32_t ev, uint64_t d, uint32_t flags,
			 uint64_t key, bool valid)
{
	bool full = ring_items() >= (int)ring_entries;
	int rx = ring_ctl(op, fd, ev, d, flags, key);

	st.ctl++;
	st.ctl_err++;
	st.refused++;
	if (!rx)
		fail("the ring instance accepted %s op %d fd %d events %#x (%s)",
		     flags ? "user event" : "", op, fd, ev,
		     ev & EPOLLET ? "EPOLLWAKEUP" : "no EPOLLET");
	if (rx == -EINVAL)
		st.refused_einval++;
	else if (valid && !(op == EPOLL_CTL_ADD && full && rx == -ENOSPC))
		fail("op %d fd %d events %#x (%s) on the ring instance: %d (%s), "
		     "not EINVAL, where the change is otherwise valid", op, fd, ev,
		     ev & EPOLLET ? "EPOLLWAKEUP" : "no EPOLLET", rx, strerror(-rx));
}

/*
 * An ADD when the model has @ring_entries items: the ring must refuse it
 * with ENOSPC where epoll accepted it (taken back from epoll then).
 * Returns true if it handled the result.
 */
static bool ring_full_add(int re, int rx, const char *what, int efd)
{
	if (re && rx != -ENOSPC)
		return false;
	if (!re) {
		if (rx != -ENOSPC)
			fail("%s: ADD past the ring's %u entries (%d items) gave %d (%s), "
			     "not ENOSPC", what, ring_entries, ring_items(), rx,
			     strerror(-rx));
		if (epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL))
			harness_error("epoll DEL after ENOSPC");
	}
	st.enospc++;
	st.ctl_err++;
	return true;
}

static void ring_op_ctl(int op, int fd, int fid, uint32_t ev, uint64_t d)
{
	int k = fid ? find_key(fid, fd) : -1, re, rx;
	int efd = fd == -100 ? ep : fd, xfd = fd == -100 ? xp : fd;
	bool full = ring_items() >= (int)ring_entries;

	if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) &&
	    (!(ev & EPOLLET) || (ev & EPOLLWAKEUP))) {
		ring_refused(op, xfd, ev, d, 0, 0, fid && F[fid].alive &&
			     (op == EPOLL_CTL_ADD ? k < 0 : k >= 0));
		return;
	}
	re = e_ctl(op, efd, ev, d);
	rx = ring_ctl(op, xfd, ev, d, 0, 0);
	st.ctl++;
	if (op == EPOLL_CTL_ADD && full && ring_full_add(re, rx, "ctl", efd))
		return;
	if (re != rx)
		fail("ctl op %d fd %d events %#x: epoll %d (%s), ring instance %d (%s)",
		     op, fd, ev, re, strerror(-re), rx, strerror(-rx));
	if (re) {
		st.ctl_err++;
		return;
	}
	if (!fid)
		return;
	ev |= EPOLLERR | EPOLLHUP;
	if (op == EPOLL_CTL_ADD && k < 0 && nkeys < MAXKEYS)
		keys[nkeys++] = (struct key){ .fid = fid, .fd = fd, .events = ev,
					      .ihist = ev, .data = d, .slot = -1 };
	else if (op == EPOLL_CTL_MOD && k >= 0) {
		keys[k].events = ev;
		keys[k].ihist |= ev;
		keys[k].data = d;
		keys[k].spent = false;
	} else if (op == EPOLL_CTL_DEL && k >= 0) {
		keys[k] = keys[--nkeys];
	}
}

/* op_user()'s change on both sides, in ring mode (see op_user). */
static void ring_op_user(struct uslot *u, int op, int fd, uint32_t ev, uint64_t d)
{
	struct epoll_event e = { .events = ev, .data.u64 = d };
	bool full = ring_items() >= (int)ring_entries;
	int re, rx;

	if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && !(ev & EPOLLET)) {
		ring_refused(op, fd, ev, d, XPOLL_CTL_USER, u->key,
			     op == EPOLL_CTL_ADD ? !u->added : u->added);
		st.uctl++;
		st.uerr++;
		return;
	}
	re = efd_user(ep, u->efd, u, op, &e);
	rx = ring_ctl(op, fd, ev, d, XPOLL_CTL_USER, u->key);
	st.ctl++;
	if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD || op == EPOLL_CTL_DEL)
		st.uctl++;
	else if (op == XPOLL_CTL_TRIGGER)
		st.utrig++;
	else
		st.uclear++;
	if (op == EPOLL_CTL_ADD && full && ring_full_add(re, rx, "user event", u->efd)) {
		st.uerr++;
		return;
	}
	if (re != rx)
		fail("user op %d key %#" PRIx64 " events %#x: epoll (eventfd) %d (%s), "
		     "ring instance %d (%s)", op, u->key, ev, re, strerror(-re), rx,
		     strerror(-rx));
	if (re) {
		st.ctl_err++;
		st.uerr++;
		return;
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		u->added = true;
		u->slot = -1;
		u->ihist = 0;
		/* fall through */
	case EPOLL_CTL_MOD:
		u->events = ev;
		u->ihist |= ev | EPOLLERR | EPOLLHUP;
		u->data = d;
		u->spent = false;
		break;
	case EPOLL_CTL_DEL:
		u->added = false;
		efd_drain(u->efd);
		break;
	}
}

/*
 * After every operation: poll() every live target and every user event's
 * eventfd, ORing what it says into the model (F[].seen).
 */
static void ring_sample(void)
{
	static struct pollfd pf[MAXFD + NUSER];
	static int pfid[MAXFD + NUSER];
	int n = 0;

	for (int i = 0; i < nlive; i++) {
		pf[n] = (struct pollfd){ .fd = livefds[i], .events = POLL_ALL };
		pfid[n++] = fdmap[livefds[i]];
	}
	for (int i = 0; i < NUSER; i++) {
		pf[n] = (struct pollfd){ .fd = U[i].efd, .events = POLL_ALL };
		pfid[n++] = U[i].fid;
	}
	if (poll(pf, n, 0) < 0)
		harness_error("poll of the targets");
	for (int i = 0; i < n; i++)
		F[pfid[i]].seen |= pf[i].revents & ~POLLNVAL;
}

/* A new window: what is ready now is what was seen since this harvest. */
static void ring_new_window(void)
{
	for (int i = 0; i < nkeys; i++)
		keys[i].ihist = keys[i].events;
	for (int i = 0; i < NUSER; i++) {
		U[i].ihist = U[i].events | EPOLLERR | EPOLLHUP;
		F[U[i].fid].seen = 0;
	}
	for (int i = 0; i < nlive; i++) {
		F[fdmap[livefds[i]]].seen = 0;
		F[fdmap[livefds[i]]].stchg = false;
		F[fdmap[livefds[i]]].spur = false;
	}
	R.sig_raised = false;
	ring_sample();
}

/*
 * This test's consumer (uapi/linux/xpoll.h, "Consumer", one thread):
 * overflow taken first, then every index from head to tail, then with
 * overflow every slot.  --mutate skips every 100th index.
 */
static int ring_consume(bool *ovf)
{
	uint32_t mask = ring_entries - 1, tail, idx, bits;
	int n = 0;

	/* Items whose wakeup had no bits: a wait makes the kernel post them. */
	if (__atomic_load_n(&R.hdr->repoll, __ATOMIC_ACQUIRE)) {
		struct xpoll_wait w = { .maxevents = 1 };

		if (ioctl(xp, XPOLL_IOC_WAIT, &w) < 0)
			fail("the wait that re-polls: %s", strerror(errno));
	}
	*ovf = __atomic_exchange_n(&R.hdr->overflow, 0, __ATOMIC_ACQ_REL);
	tail = ring_tail();
	if (tail - R.head > ring_entries)
		fail("the ring's tail %u is %u indices past its head %u: more than "
		     "its %u entries", tail, tail - R.head, R.head, ring_entries);
	while (R.head != tail) {
		idx = __atomic_load_n(&R.ring[R.head & mask], __ATOMIC_RELAXED);
		R.head++;
		__atomic_store_n(&R.hdr->head, R.head, __ATOMIC_RELEASE);
		if (mutate && ++R.taken % 100 == 0) {
			st.skipped_idx++;	/* the deliberate bug */
			continue;
		}
		if (idx >= ring_entries)
			fail("ring[%u] holds index %u, not below entries %u",
			     (R.head - 1) & mask, idx, ring_entries);
		bits = __atomic_exchange_n(&R.slots[idx].ready, 0, __ATOMIC_ACQ_REL);
		if (!bits)
			continue;
		R.ev[n] = (struct epoll_event){ .events = bits,
			.data.u64 = __atomic_load_n(&R.slots[idx].data, __ATOMIC_RELAXED) };
		R.slot[n++] = (int)idx;
	}
	if (!*ovf)
		return n;
	st.overflows++;
	for (idx = 0; idx < ring_entries; idx++) {
		bits = __atomic_exchange_n(&R.slots[idx].ready, 0, __ATOMIC_ACQ_REL);
		if (!bits)
			continue;
		st.ovf_scan_events++;
		R.ev[n] = (struct epoll_event){ .events = bits,
			.data.u64 = __atomic_load_n(&R.slots[idx].data, __ATOMIC_RELAXED) };
		R.slot[n++] = (int)idx;
	}
	return n;
}

/* Is a harvested event of item @r with @bits a readiness that happened? */
static bool ring_real(const struct itemref *r, uint32_t bits)
{
	struct fobj *f = &F[r->fid];
	uint32_t seen = f->seen, allow = *r->ihist | EPOLLERR | EPOLLHUP;

	if (seen & allow)
		return true;
	/*
	 * A socket's wakers pass a class of bits: sock_def_readable()
	 * EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND for any data,
	 * sk_write_space() EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND.
	 */
	if (f->kind == K_UNIX || f->kind == K_TCP) {
		if (seen & (EPOLLIN | EPOLLRDNORM))
			seen |= EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND;
		if (seen & (EPOLLOUT | EPOLLWRNORM))
			seen |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
		if (seen & allow & bits) {
			st.key_extras++;
			return true;
		}
	}
	/* wakers without bits: the item's interest set is reported */
	if ((f->kind == K_UNIX || f->kind == K_TCP) && f->stchg) {
		st.stchg_extras++;
		return true;
	}
	if (f->kind == K_SFD && R.sig_raised) {
		st.nosig_extras++;
		return true;
	}
	/*
	 * A read of a full pipe wakes its writers with EPOLLOUT |
	 * EPOLLWRNORM (pipe_read(), "was_full") even when the pipe is still
	 * full (a read that freed no whole buffer): a keyed wakeup of a
	 * readiness that is not there, which epoll's re-poll drops.
	 */
	if (f->kind == K_PIPE_W && f->spur && !(bits & ~(EPOLLOUT | EPOLLWRNORM))) {
		st.spur_extras++;
		return true;
	}
	return false;
}

/* After a harvest: no slot holds bits that nothing points to. */
static void ring_check_slots(void)
{
	uint32_t tail = ring_tail(), ready;

	if (mutate || __atomic_load_n(&R.hdr->overflow, __ATOMIC_ACQUIRE))
		return;
	for (uint32_t i = 0; i < ring_entries; i++) {
		bool indexed = false;

		ready = __atomic_load_n(&R.slots[i].ready, __ATOMIC_ACQUIRE);
		if (!ready)
			continue;
		for (uint32_t p = R.head; p != tail && !indexed; p++)
			indexed = R.ring[p & (ring_entries - 1)] == i;
		if (!indexed)
			fail("slot %u holds ready bits %#x after a harvest, with no "
			     "index in the ring and no overflow (data %#llx)", i,
			     ready, (unsigned long long)R.slots[i].data);
	}
}

static int ev_cmp(const void *a, const void *b);
static void print_set(const char *who, struct epoll_event *ev, int n);

static void ring_remap(void)
{
	uint32_t tail = ring_tail();

	if (munmap(R.map, R.size))
		harness_error("munmap of the ring");
	R.map = mmap(NULL, R.size, PROT_READ | PROT_WRITE, MAP_SHARED, xp, 0);
	if (R.map == MAP_FAILED)
		fail("mmap of the ring instance again after munmap: %s", strerror(errno));
	R.hdr = R.map;
	R.slots = (void *)((char *)R.map + R.slots_off);
	R.ring = (void *)((char *)R.map + R.ring_off);
	if (R.hdr->entries != ring_entries || R.hdr->head != R.head ||
	    ring_tail() != tail)
		fail("mapped again, the ring's header changed: entries %u head %u "
		     "tail %u, were %u %u %u", R.hdr->entries, R.hdr->head,
		     ring_tail(), ring_entries, R.head, tail);
	st.remaps++;
}

/*
 * A wait in ring mode: epoll_wait() with timeout 0, then a harvest of
 * the ring, compared (see the top of the file).
 */
static void ring_harvest(void)
{
	static struct epoll_event ee[NEV], xs[NEV * 2];
	struct itemref r;
	bool ovf;
	int ne, nx, matched = 0;

	if (op_no < R.drought_end) {
		logop("harvest skipped (no harvest until op %ld)", R.drought_end);
		return;
	}
	if (R.hostile) {
		__atomic_store_n(&R.hdr->head, R.head, __ATOMIC_RELEASE);
		R.hostile = false;
	}
	logop("harvest");
	ring_wait_check();
	ne = epoll_wait(ep, ee, NEV, 0);
	if (ne < 0)
		harness_error("epoll_wait");
	nx = ring_consume(&ovf);
	st.harvests++;
	st.waits++;
	st.waits_nonempty += nx > 0;
	st.events += ne;
	st.rev += nx;
	for (int i = 0; i < nx; i++) {
		struct epoll_event *x = &R.ev[i];
		int fid = (int)(x->data.u64 >> 40), s = R.slot[i];

		if (!ring_item_of(x->data.u64, &r)) {
			print_set("ring", R.ev, nx);
			if (fid > 0 && fid < nfiles && !F[fid].alive)
				fail("the ring gave an event of a closed file (fid %d, "
				     "slot %d, events %#x)", fid, s, x->events);
			fail("the ring gave data %#llx (slot %d, events %#x), no "
			     "current item's", (unsigned long long)x->data.u64, s,
			     x->events);
		}
		if (x->events & ~(*r.ihist | EPOLLERR | EPOLLHUP))
			fail("the ring gave events %#x for data %#llx (%s fid %d), "
			     "outside its interest %#x (| ERR | HUP) since the last "
			     "harvest", x->events, (unsigned long long)x->data.u64,
			     kname[F[fid].kind], fid, *r.ihist);
		if (!ring_real(&r, x->events))
			fail("the ring gave events %#x for data %#llx (%s fid %d, "
			     "interest %#x), but no poll() since the last harvest "
			     "saw any of them (seen %#x)", x->events,
			     (unsigned long long)x->data.u64, kname[F[fid].kind],
			     fid, *r.ihist, F[fid].seen);
		if (*r.slot >= 0 && *r.slot != s)
			fail("data %#llx came from slot %d, earlier from slot %d: an "
			     "item keeps its slot", (unsigned long long)x->data.u64,
			     s, *r.slot);
		*r.slot = s;
		for (int k = 0; k < nkeys; k++)
			if (F[keys[k].fid].alive && keys[k].slot == s &&
			    &keys[k].slot != r.slot)
				fail("slot %d gave data %#llx, and earlier live item "
				     "data %#llx", s, (unsigned long long)x->data.u64,
				     (unsigned long long)keys[k].data);
		for (int k = 0; k < NUSER; k++)
			if (U[k].added && U[k].slot == s && &U[k].slot != r.slot)
				fail("slot %d gave data %#llx, and earlier live user "
				     "event data %#llx", s,
				     (unsigned long long)x->data.u64,
				     (unsigned long long)U[k].data);
		if ((R.slots[s].events & ~(EPOLLERR | EPOLLHUP)) !=
		    (*r.events & ~(EPOLLERR | EPOLLHUP)))
			fail("slot %d holds interest %#x, its item's (data %#llx) is "
			     "%#x", s, R.slots[s].events,
			     (unsigned long long)x->data.u64, *r.events);
		if (*r.events & EPOLLONESHOT)
			*r.spent = true;
		st.uevents += F[fid].kind == K_USER;
	}
	memcpy(xs, R.ev, sizeof(xs[0]) * nx);
	qsort(xs, nx, sizeof(xs[0]), ev_cmp);
	for (int i = 1; i < nx; i++)
		if (xs[i].data.u64 == xs[i - 1].data.u64) {
			print_set("ring", xs, nx);
			fail("one harvest gave data %#llx twice",
			     (unsigned long long)xs[i].data.u64);
		}
	for (int j = 0; j < ne; j++) {
		bool found = false;

		for (int i = 0; i < nx && !found; i++)
			found = xs[i].data.u64 == ee[j].data.u64;
		if (found) {
			matched++;
			continue;
		}
		if (ring_item_of(ee[j].data.u64, &r) && (*r.events & EPOLLONESHOT) &&
		    *r.spent) {
			/* the ring spent the arm on a readiness gone by then */
			st.spent_oneshot++;
			continue;
		}
		if (ring_item_of(ee[j].data.u64, &r) &&
		    !(ee[j].events & ~(EPOLLERR | EPOLLHUP)) &&
		    !(*r.events & ~(EPOLLERR | EPOLLHUP | EP_MODE_BITS))) {
			/*
			 * The uapi: a waker without bits reports the interest
			 * set "without EPOLLERR and EPOLLHUP": nothing, for an
			 * item that has no other bit.  epoll re-polls.
			 */
			if (!st.errhup++)
				printf("# op %ld: epoll reported events %#x data %#llx, the "
				       "ring nothing: its interest %#x has no bit but "
				       "EPOLLERR/EPOLLHUP (the known gap; counted, the run "
				       "goes on)\n", op_no, ee[j].events,
				       (unsigned long long)ee[j].data.u64, *r.events);
			continue;
		}
		print_set("epoll", ee, ne);
		print_set("ring", xs, nx);
		fail("epoll reported events %#x data %#llx, the ring gave nothing "
		     "for it", ee[j].events, (unsigned long long)ee[j].data.u64);
	}
	st.extras += nx - matched;
	ring_check_slots();
	ring_new_window();
	/* the next harvests: paused, against a hostile head, remapped */
	if (chance(2)) {
		R.drought_end = op_no + 100 + rnd(300);
		st.droughts++;
		logop("no harvest until op %ld", R.drought_end);
	} else if (chance(2)) {
		uint32_t h = R.head + ring_entries + 1 + (uint32_t)rnd(1u << 30);

		__atomic_store_n(&R.hdr->head, h, __ATOMIC_RELEASE);
		R.hostile = true;
		st.hostile++;
		logop("hostile head %u (tail %u)", h, ring_tail());
	} else if (chance(1)) {
		ring_remap();
		logop("ring unmapped and mapped again");
	}
}

/*
 * A directed probe of the one rule the random run meets only now and
 * then: an item whose interest has no bit but EPOLLERR/EPOLLHUP (here
 * EPOLLET alone) on a pipe's write end, in a ring instance of its own
 * and in epoll; the reader's close wakes it with no bits; epoll reports
 * EPOLLERR, the ring must give the event too.
 */
static void ring_probe_gap(void)
{
	struct xpoll_ring_setup rs = { .entries = 4 };
	struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .events = EPOLLET, .data = 0x9a9 };
	struct epoll_event e = { .events = EPOLLET, .data.u64 = 0x9a9 };
	int x = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC), pe = epoll_create1(EPOLL_CLOEXEC);
	int p[2], n, got = 0;
	struct xpoll_ring_hdr *h;

	if (x < 0 || pe < 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) ||
	    ioctl(x, XPOLL_IOC_RING_SETUP, &rs))
		harness_error("gap probe setup");
	h = mmap(NULL, rs.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, x, 0);
	c.fd = p[1];
	if (h == MAP_FAILED || ioctl(x, XPOLL_IOC_CTL, &c) ||
	    epoll_ctl(pe, EPOLL_CTL_ADD, p[1], &e))
		harness_error("gap probe ADD");
	close(p[0]);
	n = epoll_wait(pe, &e, 1, 0);
	/* The close wakes without bits: the consumer's wait re-polls. */
	if (__atomic_load_n(&h->repoll, __ATOMIC_ACQUIRE)) {
		struct xpoll_wait w = { .maxevents = 1 };

		ioctl(x, XPOLL_IOC_WAIT, &w);
	}
	for (uint32_t i = h->head; i != __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE); i++) {
		uint32_t idx = ((uint32_t *)((char *)h + rs.ring_off))[i & 3];
		struct xpoll_ring_slot *sl = (void *)((char *)h + rs.slots_off);

		got |= idx < 4 && __atomic_exchange_n(&sl[idx].ready, 0, __ATOMIC_ACQ_REL);
	}
	if (n == 1 && !got) {
		R.gap = true;
		snprintf(R.gap_msg, sizeof(R.gap_msg), "pipe write end, interest "
			 "EPOLLET alone, its reader closed: epoll reported events "
			 "%#x, the ring gave nothing", e.events);
	} else if (n != 1) {
		harness_error("gap probe: epoll reported no EPOLLERR");
	}
	munmap(h, rs.mmap_size);
	close(p[1]);
	close(pe);
	close(x);
}

/* Setup of a ring instance of ring_entries; false if there is no ring. */
static bool ring_setup(const char **why)
{
	struct xpoll_version v = { 0 };
	struct xpoll_ring_setup rs = { .entries = ring_entries };

	if (ioctl(xp, XPOLL_IOC_VERSION, &v) || !(v.features & XPOLL_FEAT_RING)) {
		*why = "the module has no XPOLL_FEAT_RING";
		return false;
	}
	if (ioctl(xp, XPOLL_IOC_RING_SETUP, &rs))
		fail("XPOLL_IOC_RING_SETUP of %u entries: %s", ring_entries,
		     strerror(errno));
	if (rs.slots_off < sizeof(struct xpoll_ring_hdr) ||
	    rs.ring_off < rs.slots_off + ring_entries * sizeof(struct xpoll_ring_slot) ||
	    rs.mmap_size < rs.ring_off + ring_entries * sizeof(uint32_t) ||
	    rs.slots_off % 8 || rs.ring_off % 4)
		fail("ring layout: mmap_size %llu slots_off %u ring_off %u for %u entries",
		     (unsigned long long)rs.mmap_size, rs.slots_off, rs.ring_off,
		     ring_entries);
	R.size = rs.mmap_size;
	R.slots_off = rs.slots_off;
	R.ring_off = rs.ring_off;
	R.map = mmap(NULL, R.size, PROT_READ | PROT_WRITE, MAP_SHARED, xp, 0);
	if (R.map == MAP_FAILED)
		fail("mmap of the ring instance: %s", strerror(errno));
	R.hdr = R.map;
	R.slots = (void *)((char *)R.map + R.slots_off);
	R.ring = (void *)((char *)R.map + R.ring_off);
	if (R.hdr->entries != ring_entries || R.hdr->head || R.hdr->tail ||
	    R.hdr->overflow)
		fail("new ring: entries %u head %u tail %u overflow %u",
		     R.hdr->entries, R.hdr->head, R.hdr->tail, R.hdr->overflow);
	R.ev = calloc(2 * ring_entries + 16, sizeof(*R.ev));
	R.slot = calloc(2 * ring_entries + 16, sizeof(*R.slot));
	if (!R.ev || !R.slot)
		harness_error("calloc");
	for (int i = 0; i < NUSER; i++)
		U[i].slot = -1;
	ring_probe_gap();
	return true;
}

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
	/* ring mode: no stdio (the model samples only its own targets) */
	if (ring_mode && fd >= 0 && fd <= 2)
		fd = -1;
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
	if (ring_mode) {
		ring_op_ctl(op, fd, fid, ev, d);
		return;
	}
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
			keys[nkeys++] = (struct key){ .fid = fid, .fd = fd, .slot = -1 };
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
		if (ring_mode ? chance(96) : chance(35))
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
	if (ring_mode) {
		ring_op_user(u, op, fd, ev, d);
		return;
	}
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

	if (ring_mode) {
		ring_harvest();
		return;
	}
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
		R.sig_raised = true;
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
		if (F[fid].kind == K_PIPE_R && r > 0 && F[fid].peer)
			F[F[fid].peer].spur = true;
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
	F[fid].stchg = true;
	if (F[fid].peer)
		F[F[fid].peer].stchg = true;
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
	if (F[fid].peer)
		F[F[fid].peer].stchg = true;
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
	struct fline x = *(const struct fline *)a, y = *(const struct fline *)b;

	/* ring mode: interest compared apart (fl_events_agree) */
	if (ring_mode)
		x.events = y.events = 0;
	return memcmp(&x, &y, sizeof(struct fline));
}

/*
 * A one-shot item's interest as the two list it: equal, or in ring mode
 * one side disarmed (mode bits only: epoll disarms when it reports, the
 * ring when it appends) where the other is not.
 */
static bool fl_events_agree(unsigned int e, unsigned int x)
{
	const unsigned int mode = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET |
				  EPOLLEXCLUSIVE;

	if (e == x)
		return true;
	return ring_mode && (e & EPOLLONESHOT) && (e & mode) == (x & mode) &&
	       (!(e & ~mode) || !(x & ~mode));
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
static bool uev_events_agree(unsigned int e, unsigned int x, const struct uslot *u)
{
	static bool noted;
	bool ok;

	if (x == e)
		return true;
	ok = (x | EPOLLERR | EPOLLHUP) == (e | EPOLLERR | EPOLLHUP) ||
	     (u && !(e & ~EP_MODE_BITS) && (u->events & EPOLLONESHOT) &&
	      (x & ~(EPOLLERR | EPOLLHUP)) == (u->events & ~(EPOLLERR | EPOLLHUP))) ||
	     /* ring mode: disarmed at the append, where epoll is not yet */
	     (ring_mode && u && (u->events & EPOLLONESHOT) && !(x & ~EP_MODE_BITS) &&
	      (e & ~(EPOLLERR | EPOLLHUP)) == (u->events & ~(EPOLLERR | EPOLLHUP)));
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
		if (fl_cmp(&a[i], &b[i]) || !fl_events_agree(a[i].events, b[i].events)) {
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

/* One test, in a process of its own: the plain mode, or ring_mode. */
static int run_test(long ops, uint64_t seed)
{
	const char *why = NULL;
	sigset_t m;
	int64_t t0;

	rng = seed ? seed : 1;
	/* not the plain mode's sequence: another run of the same seed */
	if (ring_mode)
		rng ^= 0x5bd1e9955bd1e995ULL;
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
		printf("ok %d # SKIP xpoll_diff%s: %s: %s (module not loaded?)\n",
		       tnum, ring_mode ? " (ring)" : "", XPOLL_DEVICE, strerror(errno));
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
	if (ring_mode && !ring_setup(&why)) {
		printf("ok %d # SKIP xpoll_diff (ring): %s\n", tnum, why);
		return 0;
	}
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
		/*
		 * Ring mode: what is ready now joins what was seen.  A change
		 * creates no readiness, and a harvest samples itself: only
		 * the other operations (user events' triggers are writes).
		 */
		if (ring_mode && !(r >= 4 && r < 36) && !(r >= 66 && r < 84) && r < 95)
			ring_sample();
		if (op_no % 5000 == 4999)
			check_fdinfo();
	}
	if (ring_mode) {
		R.drought_end = 0;
		ring_harvest();
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
	if (ring_mode) {
		printf("# ring (%u entries): %ld harvests, %ld events harvested "
		       "against %ld of epoll, %ld of them extra (a readiness gone "
		       "by the harvest: %ld after a socket's state change, %ld "
		       "after a signal, %ld a full pipe's writer woken by a "
		       "read, %ld a socket's waker's class of bits); %ld "
		       "overflows (%ld events taken from the slots), %ld "
		       "pauses, %ld hostile heads, %ld remaps; "
		       "%ld ENOSPC; %ld changes refused (%ld EINVAL); %ld WAIT "
		       "checks, %ld refused WAIT/CTL_WAIT%s\n", ring_entries,
		       st.harvests, st.rev, st.events, st.extras, st.stchg_extras,
		       st.nosig_extras, st.spur_extras, st.key_extras,
		       st.overflows, st.ovf_scan_events,
		       st.droughts, st.hostile, st.remaps, st.enospc, st.refused,
		       st.refused_einval, st.wait_checks, st.bad_wait_checks,
		       mutate ? " (--mutate: the consumer skipped indices)" : "");
		if (st.spent_oneshot)
			printf("# note: %ld epoll event(s) of one-shot items the ring had "
			       "disarmed at an earlier append whose readiness was gone "
			       "by its harvest (epoll re-polled, found nothing and kept "
			       "the item armed)\n", st.spent_oneshot);
		if (st.errhup || R.gap)
			printf("# %s: the ring's EPOLLERR/EPOLLHUP gap: the probe at the "
			       "setup %s; in the run %ld epoll event(s) of EPOLLERR/"
			       "EPOLLHUP for items whose interest has no other bit, "
			       "which the ring did not give (a waker that passes no "
			       "bits posts the interest set \"without EPOLLERR and "
			       "EPOLLHUP\": nothing)\n",
			       tolerate_errhup ? "note (--ring-tolerate-errhup)" : "FAIL",
			       R.gap ? "failed (below)" : "passed", st.errhup);
		if (R.gap)
			printf("#   %s\n", R.gap_msg);
		if (st.ctlwait_applied)
			printf("# note: %ld refused CTL_WAIT(s) applied their change\n",
			       st.ctlwait_applied);
		if (mutate && !st.skipped_idx)
			fail("--mutate: the consumer skipped no index");
		if ((st.errhup || R.gap) && !tolerate_errhup) {
			printf("not ok %d xpoll_diff: epoll and a ring instance (EPOLLET) "
			       "agree: every event epoll reports is harvested, but for "
			       "the EPOLLERR/EPOLLHUP gap above (seed %" PRIu64 ", %ld ops)\n",
			       tnum, seed, ops);
			return 1;
		}
	}
	printf("ok %d xpoll_diff: epoll and %s agree (seed %" PRIu64 ", %ld ops)\n",
	       tnum, self_check ? "a second epoll" : ring_mode ?
	       "a ring instance (EPOLLET)" : "xpoll", seed, ops);
	return 0;
}

int main(int argc, char **argv)
{
	long ops = 100000, ring_ops = 3000;
	uint64_t seed = 0;
	bool have_seed = false, only_ring = false, no_ring = false, have_rops = false;
	int ntests, rc = 0;

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
		} else if (!strcmp(argv[i], "--ring")) {
			only_ring = true;
		} else if (!strcmp(argv[i], "--no-ring")) {
			no_ring = true;
		} else if (!strcmp(argv[i], "--ring-ops") && i + 1 < argc) {
			ring_ops = atol(argv[++i]);
			have_rops = true;
		} else if (!strcmp(argv[i], "--ring-tolerate-errhup")) {
			tolerate_errhup = true;
		} else if (!strcmp(argv[i], "--ring-entries") && i + 1 < argc) {
			ring_entries = (unsigned int)strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--ops N] [--seed S] [--self-check] "
				"[--mutate] [-v] [--ring | --no-ring] [--ring-ops N] "
				"[--ring-entries N] [--ring-tolerate-errhup]\n", argv[0]);
			return 2;
		}
	}
	if ((only_ring && (no_ring || self_check)) || !ring_entries ||
	    (ring_entries & (ring_entries - 1)) || ring_entries > NEV) {
		fprintf(stderr, "%s: --ring goes without --no-ring and --self-check; "
			"--ring-entries is a power of 2 up to %d\n", argv[0], NEV);
		return 2;
	}
	if (only_ring && !have_rops)
		ring_ops = ops;
	/* --self-check has no ring: a second epoll has none */
	if (self_check)
		no_ring = true;
	if (!have_seed)
		seed = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ntests = only_ring || no_ring ? 1 : 2;
	printf("TAP version 13\n1..%d\n", ntests);
	printf("# seed: %" PRIu64 " ops: %ld ring ops: %ld\n", seed,
	       only_ring ? 0 : ops, no_ring ? 0 : ring_ops);
	printf("# replay: %s --seed %" PRIu64 " --ops %ld%s%s --ring-ops %ld "
	       "--ring-entries %u%s%s\n", argv[0], seed, ops,
	       self_check ? " --self-check" : "",
	       only_ring ? " --ring" : no_ring ? " --no-ring" : "", ring_ops,
	       ring_entries, tolerate_errhup ? " --ring-tolerate-errhup" : "",
	       mutate ? " --mutate" : "");
	for (int t = 1; t <= ntests; t++) {
		bool ring = only_ring || t == 2;
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			printf("not ok %d xpoll_diff: fork: %s\n", t, strerror(errno));
			rc = 1;
			continue;
		}
		if (pid == 0) {
			tnum = t;
			ring_mode = ring;
			exit(run_test(ring ? ring_ops : ops, seed));
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			if (!WIFEXITED(status))
				printf("not ok %d xpoll_diff%s: the test's process "
				       "ended with status %#x\n", t,
				       ring ? " (ring)" : "", status);
			rc = 1;
		}
	}
	return rc;
}
