// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll-fuzz: random and adversarial ioctls on /dev/xpoll from several
 * threads (issue 5, item 3).
 *
 * Every call must succeed or fail with one of the errnos the interface
 * documents (EINVAL EFAULT ENOTTY EBADF EEXIST ENOENT EPERM ELOOP ENOSPC
 * ENOMEM EINTR); any other result, or a success where the contract demands
 * a failure (a non-zero reserved field, a bad maxevents, an unknown
 * command, a min-wait rule broken, a user event's field rule broken), is
 * a failure. Outputs are checked too: VERSION fills in ABI 1, WAIT never
 * returns more than maxevents and never writes past the events it
 * returned (a canary follows them), CTL_BATCH and CTL_WAIT apply every
 * change of good arrays and report each with 0 or a documented errno,
 * never 0 for a change the contract refuses.
 *
 * Inputs: commands (the real ones, unknown ones in and out of xpoll's
 * magic, real ones with the size or direction bits wrong), argument
 * pointers (valid, NULL, unmapped, straddling into an unmapped page,
 * read-only, kernel, non-canonical, misaligned), struct fields (random ops,
 * masks, huge and negative counts, non-zero reserved and flags; user events
 * of XPOLL_FEAT_USER_EVENTS with ops 1-5, small and random keys, fd -1 or
 * an instance; min_events and min_wait_ns of XPOLL_FEAT_MIN_WAIT, valid
 * and not, in WAIT and CTL_WAIT), target fds
 * (xpoll instances, so nesting and cycles, epoll, eventfds, pipes, sockets,
 * timerfd, signalfd, a memfd and a directory that cannot be polled, closed
 * and recycled numbers, negative and huge numbers). Descriptors are closed
 * and reopened under the other threads' feet, and a kicker thread sends
 * signals so blocking waits end with EINTR.
 *
 * Nesting: each thread also keeps a private graph of instances over
 * eventfds (see "nesting" below) whose every call has one right result:
 * instances added into instances up to the depth limit, cycles refused
 * with ELOOP, instances closed in the middle of the graph, eventfd writes
 * flowing through, no lost and no foreign event.
 *
 * Replay: each thread draws from its own generator seeded by (seed, thread);
 * --threads 1 with the same --seed and --calls repeats the exact sequence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <linux/xpoll.h>

#define NSLOT 48
#define MAXTH 16
#define PG 4096

static atomic_int slot_fd[NSLOT];
static atomic_long calls, bad_errno, contract_fail;
/* coverage of the newer features: calls made, and how many succeeded */
static atomic_long uev_calls, uev_ok, minwait_calls, minwait_ok;
static atomic_long errno_hist[140];
static atomic_int stop, kicker_stop;
static long max_calls = 200000;
static double max_secs = 30;
static unsigned long long seed;
static int nthreads = 4, verbose;

/*
 * memory: per thread [rw page][PROT_NONE page] (the rw page holds the
 * misaligned structs, so it must not be shared); one read-only page.
 */
static __thread char *rw_page, *none_page;
static char *ro_page;

static int map_pages(void)
{
	rw_page = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rw_page == MAP_FAILED)
		return -1;
	none_page = rw_page + PG;
	return mprotect(none_page, PG, PROT_NONE);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int chance(uint64_t *s, int n)	/* 1 in n */
{
	return rnd(s) % n == 0;
}

static const int allowed[] = {
	EINVAL, EFAULT, ENOTTY, EBADF, EEXIST, ENOENT, EPERM, ELOOP, ENOSPC,
	ENOMEM, EINTR,
};

static void report(const char *what, int ret, int err, const char *why)
{
	static atomic_int printed;

	if (atomic_fetch_add(&printed, 1) < 20)
		printf("# %s: returned %d errno %d (%s): %s\n", what, ret, err,
		       strerror(err), why);
}

/*
 * ret/err: the call's result. must_fail: the contract requires an error.
 * exact: if non-zero, the only acceptable errno.
 */
static void judge(const char *what, int ret, int err, int must_fail, int exact)
{
	unsigned int i;

	atomic_fetch_add(&calls, 1);
	if (ret >= 0) {
		atomic_fetch_add(&errno_hist[0], 1);
		if (must_fail || exact) {
			atomic_fetch_add(&contract_fail, 1);
			report(what, ret, 0, "succeeded where the contract demands an error");
		}
		return;
	}
	atomic_fetch_add(&errno_hist[err > 0 && err < 140 ? err : 139], 1);
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (err == allowed[i])
			break;
	if (i == sizeof(allowed) / sizeof(allowed[0])) {
		atomic_fetch_add(&bad_errno, 1);
		report(what, ret, err, "undocumented errno");
		return;
	}
	if (exact && err != exact && err != EINTR) {
		atomic_fetch_add(&contract_fail, 1);
		report(what, ret, err, exact == ENOTTY ? "expected ENOTTY" : "expected another errno");
	}
}

/* ---- the descriptor pool ------------------------------------------------ */

static int open_object(uint64_t *rs)
{
	int p[2], fd = -1;
	sigset_t ss;
	struct itimerspec its = { .it_value = { 0, 1 } };

	switch (rnd(rs) % 12) {
	case 0: case 1: case 2: case 3:
		fd = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && rnd(rs) % 4 == 0) {
			/* a ring instance (when the module has rings) */
			struct xpoll_ring_setup r = { .entries = 1u << (rnd(rs) % 7) };

			if (ioctl(fd, XPOLL_IOC_RING_SETUP, &r) && errno != ENOTTY &&
			    errno != ENOMEM)
				perror("RING_SETUP of a pool instance");
		}
		return fd;
	case 4:
		return eventfd(rnd(rs) & 1, EFD_NONBLOCK | EFD_CLOEXEC);
	case 5:
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			return -1;
		fd = rnd(rs) & 1;
		close(p[!fd]);	/* the other end gone: HUP or ERR */
		return p[fd];
	case 6:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p))
			return -1;
		if (rnd(rs) & 1) {
			close(p[1]);	/* peer gone: HUP */
		} else if (write(p[1], "x", 1) < 0) {
			close(p[1]);
		}
		return p[0];
	case 7:
		return epoll_create1(EPOLL_CLOEXEC);
	case 8:
		fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (fd >= 0 && rnd(rs) & 1)
			timerfd_settime(fd, 0, &its, NULL);
		return fd;
	case 9:
		sigemptyset(&ss);
		sigaddset(&ss, SIGUSR2);
		return signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	case 10:
		return memfd_create("xpoll-fuzz", MFD_CLOEXEC);	/* EPERM */
	default:
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);	/* EPERM */
	}
}

static void recycle_slot(uint64_t *rs)
{
	int i = rnd(rs) % NSLOT;
	int old = atomic_exchange(&slot_fd[i], -1);

	if (old >= 0)
		close(old);
	atomic_store(&slot_fd[i], open_object(rs));
}

static int pick_fd(uint64_t *rs, int self)
{
	static const int bogus[] = { -1, -2, -1000, 0x7fffffff, 1 << 20, 4096 };

	switch (rnd(rs) % 16) {
	case 0:
		return bogus[rnd(rs) % 6];
	case 1:
		return self;
	case 2:
		return 3 + rnd(rs) % 200;	/* whatever lives there now */
	default:
		return atomic_load(&slot_fd[rnd(rs) % NSLOT]);
	}
}

static void flip_readiness(uint64_t *rs)
{
	int fd = atomic_load(&slot_fd[rnd(rs) % NSLOT]);
	char buf[64];
	uint64_t one = 1;

	if (fd < 0)
		return;
	/* both are harmless on any kind of descriptor; errors don't matter */
	if (rnd(rs) & 1) {
		if (write(fd, &one, sizeof(one)) < 0)
			return;
	} else if (read(fd, buf, sizeof(buf)) < 0) {
		return;
	}
}

/* ---- pointers ------------------------------------------------------------ */

/*
 * A pointer for a struct of size sz: mostly good, otherwise one of the
 * ways user memory can be wrong. The kind says what the kernel must make
 * of it: P_GOOD, P_RO (readable, zero-filled, not writable), P_FAULT (no
 * access can succeed), P_MAYBE (a random address: anything goes).
 */
enum { P_GOOD, P_RO, P_FAULT, P_MAYBE, P_NULL };

static void *pick_ptr(uint64_t *rs, void *good, size_t sz, int *kind)
{
	switch (rnd(rs) % 20) {
	case 0:
		*kind = P_NULL;
		return NULL;
	case 1:
		*kind = P_FAULT;
		return none_page + rnd(rs) % PG;
	case 2:
		*kind = P_FAULT;
		return none_page - sz + 1 + rnd(rs) % (sz - 1);	/* straddles */
	case 3:
		*kind = P_RO;
		return ro_page + rnd(rs) % (PG - sz);
	case 4:
		*kind = P_FAULT;
		return (void *)0xffffffff81000000ULL;
	case 5:
		*kind = P_FAULT;
		return (void *)0x8000000000000000ULL;
	case 6:
		*kind = P_MAYBE;
		return (void *)(uintptr_t)rnd(rs);
	case 7:	/* misaligned but valid: must work */
		*kind = P_GOOD;
		return (char *)rw_page + PG - sz - 1 - rnd(rs) % 7;
	default:
		*kind = P_GOOD;
		return good;
	}
}

static uint32_t pick_events(uint64_t *rs)
{
	static const uint32_t bits[] = {
		EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLERR, EPOLLHUP, EPOLLRDHUP,
		EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLRDNORM,
		EPOLLWRNORM, EPOLLRDBAND, EPOLLMSG,
	};
	uint32_t m = 0;
	int n = rnd(rs) % 4;

	if (chance(rs, 16))
		return (uint32_t)rnd(rs);
	while (n--)
		m |= bits[rnd(rs) % (sizeof(bits) / sizeof(bits[0]))];
	return m;
}

/* ---- the calls ----------------------------------------------------------- */

static unsigned long bad_cmd(uint64_t *rs)
{
	/* xpoll's real commands with the size or direction wrong */
	static const unsigned long mangled[] = {
		_IOR(XPOLL_IOC_MAGIC, 0x00, struct xpoll_version),
		_IOWR(XPOLL_IOC_MAGIC, 0x01, struct xpoll_ctl),
		_IOR(XPOLL_IOC_MAGIC, 0x02, struct xpoll_wait),
		_IOW(XPOLL_IOC_MAGIC, 0x01, __u64),
		_IOW(XPOLL_IOC_MAGIC, 0x02, struct xpoll_ctl),
		_IO(XPOLL_IOC_MAGIC, 0x00), _IO(XPOLL_IOC_MAGIC, 0x01),
		_IO(XPOLL_IOC_MAGIC, 0x02), _IO(XPOLL_IOC_MAGIC, 0x03),
		_IOR(XPOLL_IOC_MAGIC, 0x03, struct xpoll_ctl_batch),
		_IOR(XPOLL_IOC_MAGIC, 0x10, struct xpoll_params),
		_IOW(XPOLL_IOC_MAGIC, 0x11, struct xpoll_params),
		_IOW(XPOLL_IOC_MAGIC, 0x10, __u64),
		_IO(XPOLL_IOC_MAGIC, 0x10), _IO(XPOLL_IOC_MAGIC, 0x11),
		_IOW(XPOLL_IOC_MAGIC, 0x04, struct xpoll_ctl_wait),
		_IOWR(XPOLL_IOC_MAGIC, 0x04, struct xpoll_wait),
		_IOR(XPOLL_IOC_MAGIC, 0x05, struct xpoll_ring_setup),
		_IOW(XPOLL_IOC_MAGIC, 0x05, struct xpoll_ring_setup),
		_IOWR(XPOLL_IOC_MAGIC, 0x05, struct xpoll_ring_hdr),
		_IO(XPOLL_IOC_MAGIC, 0x05),
	};
	unsigned long c;
	unsigned int type;

	switch (rnd(rs) % 3) {
	case 0:
		return mangled[rnd(rs) % (sizeof(mangled) / sizeof(mangled[0]))];
	case 1:	/* numbers of xpoll's magic that are no command, any size */
		do {
			c = _IOC(rnd(rs) % 4, XPOLL_IOC_MAGIC, 4 + rnd(rs) % 252,
				 rnd(rs) % 256);
		} while (c == XPOLL_IOC_SET_PARAMS || c == XPOLL_IOC_GET_PARAMS ||
			 c == XPOLL_IOC_CTL_WAIT || c == XPOLL_IOC_RING_SETUP);
		return c;
	default:
		/*
		 * Anything else, except the types the VFS answers itself for
		 * every file (FIO*, FS_IOC_*, FIFREEZE, FICLONE, FIBMAP...):
		 * those never reach xpoll.
		 */
		do {
			c = (uint32_t)rnd(rs);
			type = _IOC_TYPE(c);
		} while (type == 0x00 || type == 'T' || type == 'X' ||
			 type == 'f' || type == 0x94 || type == 0x15 ||
			 type == XPOLL_IOC_MAGIC);
		return c;
	}
}

struct wait_buf {
	struct epoll_event ev[64];
	uint64_t canary[8];
};

static void fz_version(int xfd, uint64_t *rs)
{
	struct xpoll_version v, *p;
	int kind, ret, err, must = 0;

	memset(&v, 0, sizeof(v));
	if (chance(rs, 4)) {
		v.reserved0 = chance(rs, 2) ? (uint32_t)rnd(rs) : 0;
		v.reserved[rnd(rs) & 1] = rnd(rs);
		must = v.reserved0 || v.reserved[0] || v.reserved[1];
	}
	p = pick_ptr(rs, &v, sizeof(v), &kind);
	if (kind == P_GOOD && p != &v)
		memcpy(p, &v, sizeof(v));
	ret = ioctl(xfd, XPOLL_IOC_VERSION, p);
	err = errno;
	/* RO: readable but VERSION writes back, so it must fail too */
	judge("VERSION", ret, err, must || (kind != P_GOOD && kind != P_MAYBE), 0);
	if (p != &v && kind == P_GOOD)
		memcpy(&v, p, sizeof(v));
	if (ret == 0 && kind == P_GOOD && (v.abi_version != XPOLL_ABI_VERSION ||
				 !(v.features & XPOLL_FEAT_CTL))) {
		atomic_fetch_add(&contract_fail, 1);
		report("VERSION", ret, 0, "bad abi_version or features");
	}
}

/* 1 to 3 of the bits a user event may be triggered or cleared with */
static uint32_t pick_user_bits(uint64_t *rs)
{
	static const uint32_t bits[] = {
		EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDNORM,
		EPOLLRDBAND, EPOLLWRNORM, EPOLLWRBAND, EPOLLMSG, EPOLLRDHUP,
	};
	uint32_t m = 0;
	int n = 1 + rnd(rs) % 3;

	while (n--)
		m |= bits[rnd(rs) % (sizeof(bits) / sizeof(bits[0]))];
	return m;
}

/*
 * One struct xpoll_ctl for XPOLL_IOC_CTL and the change lists of
 * CTL_BATCH and CTL_WAIT: a change on a file, or one time in four a user
 * event (XPOLL_CTL_USER, keys mostly 0..15 so that TRIGGER, MOD and DEL
 * find what an ADD made).  Returns 1 if the contract demands that it
 * fails (uapi/linux/xpoll.h, "Fields, with XPOLL_CTL_USER in flags"):
 *  - any: a flags bit but XPOLL_CTL_USER, reserved not 0, op not 1..5
 *    (1..3 on a file);
 *  - a file: key not 0, fd negative;
 *  - user ADD/MOD/DEL: fd not -1; MOD with EPOLLEXCLUSIVE; ADD with
 *    EPOLLEXCLUSIVE and a bit besides IN, OUT, ERR, HUP, WAKEUP, ET;
 *  - user TRIGGER/CLEAR: events 0 or outside XPOLL_USER_BITS, data not 0,
 *    fd below -1 (EBADF).
 */
static int gen_ctl(uint64_t *rs, int xfd, struct xpoll_ctl *c)
{
	const uint32_t excl_ok = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP |
				 EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
	int must = 0;

	memset(c, 0, sizeof(*c));
	if (chance(rs, 4)) {
		c->flags = XPOLL_CTL_USER;
		c->op = chance(rs, 16) ? (uint32_t)rnd(rs) % 8 : 1 + rnd(rs) % 5;
		if (chance(rs, 60))
			c->op = (uint32_t)rnd(rs);
		c->key = chance(rs, 8) ? rnd(rs) : rnd(rs) % 16;
		switch (rnd(rs) % 8) {
		case 0:
			c->fd = pick_fd(rs, xfd);	/* anything, maybe an instance */
			break;
		case 1:
			c->fd = xfd;
			break;
		default:
			c->fd = -1;
		}
		if (c->op == XPOLL_CTL_TRIGGER || c->op == XPOLL_CTL_CLEAR) {
			c->events = chance(rs, 10) ? pick_events(rs) : pick_user_bits(rs);
			c->data = chance(rs, 10) ? rnd(rs) | 1 : 0;
			must = !c->events || (c->events & ~XPOLL_USER_BITS) ||
			       c->data || c->fd < -1;
		} else if (c->op >= XPOLL_CTL_ADD && c->op <= XPOLL_CTL_MOD) {
			c->events = pick_events(rs);
			c->data = rnd(rs);
			must = c->fd != -1;
			if (c->op == XPOLL_CTL_MOD && (c->events & EPOLLEXCLUSIVE))
				must = 1;
			if (c->op == XPOLL_CTL_ADD && (c->events & EPOLLEXCLUSIVE) &&
			    (c->events & ~excl_ok))
				must = 1;
		} else {
			c->events = pick_events(rs);
			must = 1;
		}
	} else {
		c->op = chance(rs, 12) ? (uint32_t)rnd(rs) % 8 : 1 + rnd(rs) % 3;
		if (chance(rs, 40))
			c->op = (uint32_t)rnd(rs);
		c->fd = pick_fd(rs, xfd);
		c->events = pick_events(rs);
		c->data = rnd(rs);
		if (chance(rs, 20))
			c->key = rnd(rs) | 1;	/* only a user event has one */
		must = c->key || c->op < 1 || c->op > 3 || c->fd < 0;
	}
	if (chance(rs, 10)) {
		if (rnd(rs) & 1)
			c->flags = (uint32_t)rnd(rs) | 2;	/* an undefined bit */
		else
			c->reserved = rnd(rs) | 1;
		must = 1;
	}
	return must;
}

static int ring_refuses(const struct xpoll_ctl *c);

/*
 * @ring: @xfd is a ring instance, whose items must be EPOLLET and not
 * EPOLLWAKEUP (must fail otherwise).
 */
static void fz_ctl_on(int xfd, uint64_t *rs, int ring)
{
	struct xpoll_ctl c, *p;
	int kind, ret, err, must;

	must = gen_ctl(rs, xfd, &c);
	if (ring && ring_refuses(&c))
		must = 1;
	p = pick_ptr(rs, &c, sizeof(c), &kind);
	if (kind == P_GOOD && p != &c)
		memcpy(p, &c, sizeof(c));
	ret = ioctl(xfd, XPOLL_IOC_CTL, p);
	err = errno;
	/*
	 * Read-only memory is fine for CTL (only read), but ours is zeros:
	 * op 0, which is invalid, so every kind but GOOD and MAYBE must fail.
	 */
	if (kind == P_GOOD && (c.flags & XPOLL_CTL_USER)) {
		atomic_fetch_add(&uev_calls, 1);
		if (ret == 0)
			atomic_fetch_add(&uev_ok, 1);
	}
	if (kind == P_GOOD)
		judge(ring ? "CTL on a ring instance" : c.flags & XPOLL_CTL_USER ?
		      "CTL user event" : "CTL", ret, err, must, 0);
	else
		judge("CTL", ret, err, kind != P_MAYBE, 0);
}

static void fz_ctl(int xfd, uint64_t *rs)
{
	fz_ctl_on(xfd, rs, 0);
}

/*
 * results[0..n) of a change list applied by CTL_BATCH or CTL_WAIT: each 0
 * or a documented negative errno, and never 0 for a change the contract
 * refuses (must[i]).
 */
static void check_results(const char *what, const int32_t *res,
			  const int *must, unsigned int n)
{
	unsigned int i, k;

	for (i = 0; i < n; i++) {
		if (res[i] == 0) {
			if (must[i]) {
				atomic_fetch_add(&contract_fail, 1);
				report(what, 0, 0, "a change the contract refuses succeeded");
			}
			continue;
		}
		for (k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
			if (res[i] == -allowed[k] && allowed[k] != EINTR)
				break;
		if (k == sizeof(allowed) / sizeof(allowed[0])) {
			atomic_fetch_add(&bad_errno, 1);
			report(what, res[i], res[i] < 0 ? -res[i] : 0,
			       "a change's result is no documented errno");
		}
	}
}

/*
 * min_events and min_wait_ns of a wait (XPOLL_FEAT_MIN_WAIT): mostly off
 * or valid (short limits), else one of the three EINVAL rules: min_events
 * above maxevents, min_wait_ns negative, min_wait_ns with min_events 0.
 * Returns 1 if the wait must fail.
 */
static int gen_min_wait(uint64_t *rs, struct xpoll_wait *w)
{
	switch (rnd(rs) % 10) {
	case 0: case 1: case 2:
		if (w->maxevents > 0) {
			w->min_events = 1 + rnd(rs) % (uint32_t)w->maxevents;
			w->min_wait_ns = chance(rs, 3) ? 0 :
					 (int64_t)(rnd(rs) % 2000000);
		}
		return 0;
	case 3:
		w->min_events = w->maxevents > 0 ? w->maxevents : 1;
		return 0;
	case 4:
		w->min_events = chance(rs, 2) ?
			(uint32_t)w->maxevents + 1 + (uint32_t)(rnd(rs) % 4) :
			(uint32_t)rnd(rs) | 0x80000000u;
		if (w->min_events <= (uint32_t)w->maxevents && w->maxevents > 0)
			w->min_events = 0xffffffffu;
		return 1;
	case 5:
		w->min_events = 1 + rnd(rs) % 4;
		w->min_wait_ns = -1 - (int64_t)(rnd(rs) >> (1 + rnd(rs) % 63));
		return 1;
	case 6:
		w->min_wait_ns = 1 + (int64_t)(rnd(rs) % 1000000);
		return 1;
	default:
		return 0;
	}
}

static void fz_wait(int xfd, uint64_t *rs)
{
	struct wait_buf wb;
	struct xpoll_wait w, *p;
	sigset_t mask;
	void *evp;
	int kind, ekind, skind = P_NULL, ret, err, must = 0, cap = 64, i;

	memset(&w, 0, sizeof(w));
	memset(&wb, 0xa5, sizeof(wb));
	w.maxevents = 1 + rnd(rs) % cap;
	switch (rnd(rs) % 12) {
	case 0:
		w.maxevents = 0;
		must = 1;
		break;
	case 1:
		w.maxevents = -(int)(rnd(rs) % 0x7fffffff) - 1;
		must = 1;
		break;
	case 2:
		w.maxevents = (int)(0x7fffffff / sizeof(struct epoll_event)) + 1 +
			      rnd(rs) % 1000;
		must = 1;
		break;
	default:
		break;
	}
	evp = pick_ptr(rs, wb.ev, sizeof(wb.ev), &ekind);
	w.events = (uintptr_t)evp;
	/* a kernel or non-canonical buffer fails access_ok: EFAULT always */
	if ((uintptr_t)evp >= 0x8000000000000000ULL)
		must = 1;
	/* timeouts short, or forever (the kicker's signals end those) */
	switch (rnd(rs) % 8) {
	case 0:
		w.timeout_ns = -1 - (long long)(rnd(rs) % 1000);
		break;
	case 1:
		w.timeout_ns = (long long)(rnd(rs) % 2000000);
		break;
	case 2:
		w.timeout_ns = (long long)(rnd(rs) % 1000);
		break;
	default:
		w.timeout_ns = 0;
	}
	if (chance(rs, 4)) {
		/* random bits, but never block the kicker's signal */
		sigemptyset(&mask);
		for (i = 1; i <= 64; i++)
			if (rnd(rs) & 1)
				sigaddset(&mask, i);
		sigdelset(&mask, SIGUSR1);
		w.sigmask = (uintptr_t)pick_ptr(rs, &mask, 8, &skind);
		if (skind == P_GOOD)
			w.sigmask = (uintptr_t)&mask;
		if (skind == P_MAYBE && w.timeout_ns < 0)
			w.timeout_ns = 0;	/* could block SIGUSR1 */
		w.sigsetsize = chance(rs, 8) ? rnd(rs) % 256 : 8;
		if (skind != P_NULL && w.sigsetsize != 8)
			must = 1;
		if (skind == P_FAULT)
			must = 1;
	} else if (chance(rs, 16)) {
		w.sigsetsize = (uint32_t)rnd(rs);	/* ignored without a mask */
	}
	if (gen_min_wait(rs, &w))
		must = 1;
	if (chance(rs, 12)) {
		if (rnd(rs) & 1)
			w.flags = (uint32_t)rnd(rs) | 1;
		else
			w.reserved = rnd(rs) | 1;
		must = 1;
	}
	p = pick_ptr(rs, &w, sizeof(w), &kind);
	if (kind == P_GOOD && p != &w)
		memcpy(p, &w, sizeof(w));
	ret = ioctl(xfd, XPOLL_IOC_WAIT, p);
	err = errno;
	if (kind == P_GOOD && w.min_events && !must) {
		atomic_fetch_add(&minwait_calls, 1);
		if (ret > 0)
			atomic_fetch_add(&minwait_ok, 1);
	}
	if (kind == P_GOOD)
		judge("WAIT", ret, err, must, 0);
	else	/* unreadable, or zeros (maxevents 0): must fail */
		judge("WAIT", ret, err, kind != P_MAYBE, 0);
	if (ret > 0 && kind == P_GOOD) {
		if (ret > w.maxevents) {
			atomic_fetch_add(&contract_fail, 1);
			report("WAIT", ret, 0, "more events than maxevents");
		}
		/* events returned into our buffer: nothing written after them */
		if (evp == wb.ev) {
			const unsigned char *b = (const unsigned char *)&wb.ev[ret];
			size_t left = sizeof(wb) - (size_t)ret * sizeof(struct epoll_event);

			for (size_t k = 0; k < left; k++)
				if (b[k] != 0xa5) {
					atomic_fetch_add(&contract_fail, 1);
					report("WAIT", ret, 0, "wrote past the events it returned");
					break;
				}
		}
	}
}

/*
 * XPOLL_IOC_CTL_WAIT: up to 4 random changes (as fz_ctl's), then a short
 * or non-blocking wait; bad header fields must fail, with nothing applied
 * (not checked here: selftests/ctlwait does), and the returned count may
 * never pass maxevents.
 */
static void fz_ctl_wait(int xfd, uint64_t *rs)
{
	struct xpoll_ctl_wait cw, *p;
	struct xpoll_ctl c[4];
	struct epoll_event ev[8];
	int32_t res[4];
	int kind, ret, err, must = 0, cmust[4] = { 0 }, ctls_good = 1;
	unsigned int i;

	memset(&cw, 0, sizeof(cw));
	memset(c, 0, sizeof(c));
	cw.nr = rnd(rs) % 5;
	for (i = 0; i < cw.nr; i++)
		cmust[i] = gen_ctl(rs, xfd, &c[i]);
	cw.ctls = (uintptr_t)c;
	cw.results = (uintptr_t)res;
	cw.wait.events = (uintptr_t)ev;
	cw.wait.maxevents = 1 + rnd(rs) % 8;
	cw.wait.timeout_ns = chance(rs, 4) ? (long long)(rnd(rs) % 1000000) : 0;
	if (gen_min_wait(rs, &cw.wait))
		must = 1;
	switch (rnd(rs) % 10) {
	case 0:
		cw.nr = XPOLL_CTL_BATCH_MAX + 1 + rnd(rs) % 1000;
		must = 1;
		break;
	case 1:
		cw.wait.flags = (uint32_t)rnd(rs) | 1;
		must = 1;
		break;
	case 2:
		cw.wait.reserved = rnd(rs) | 1;
		must = 1;
		break;
	case 3:
		cw.wait.maxevents = -(int)(rnd(rs) % 100);
		must = 1;
		break;
	case 4:
		if (cw.nr) {
			cw.ctls = (uintptr_t)pick_ptr(rs, c, sizeof(c), &kind);
			ctls_good = kind == P_GOOD;
			if (kind == P_GOOD)
				cw.ctls = (uintptr_t)c;
			/*
			 * NULL and kernel addresses must fail; a pointer that
			 * straddles into an unmapped page may apply the
			 * changes before it (nr_done says how many).
			 */
			else if (kind == P_NULL ||
				 cw.ctls >= 0x8000000000000000ULL)
				must = 1;
		}
		break;
	default:
		break;
	}
	p = pick_ptr(rs, &cw, sizeof(cw), &kind);
	if (kind == P_GOOD && p != &cw)
		memcpy(p, &cw, sizeof(cw));
	ret = ioctl(xfd, XPOLL_IOC_CTL_WAIT, p);
	err = errno;
	/* the struct is written (nr_done): read-only memory fails too */
	if (kind == P_GOOD)
		judge("CTL_WAIT", ret, err, must, 0);
	else
		judge("CTL_WAIT", ret, err, kind != P_MAYBE, 0);
	if (ret > 0 && kind == P_GOOD && ret > cw.wait.maxevents) {
		atomic_fetch_add(&contract_fail, 1);
		report("CTL_WAIT", ret, 0, "more events than maxevents");
	}
	/* the changes applied: nr_done of them, each with its result */
	if (ret >= 0 && kind == P_GOOD && ctls_good) {
		if (p != &cw)
			memcpy(&cw, p, sizeof(cw));
		if (cw.nr_done != cw.nr) {
			atomic_fetch_add(&contract_fail, 1);
			report("CTL_WAIT", ret, 0, "nr_done is not nr with good arrays");
		} else {
			check_results("CTL_WAIT change", res, cmust, cw.nr_done);
		}
	}
}

/*
 * XPOLL_IOC_CTL_BATCH: up to 8 changes of gen_ctl() (files and user
 * events); a bad header (nr 0 or above the maximum, flags, reserved) or
 * a struct that cannot be read must fail; otherwise every change is
 * applied (the call returns nr) and each result obeys gen_ctl()'s rules.
 */
static void fz_batch(int xfd, uint64_t *rs)
{
	struct xpoll_ctl_batch b, *p;
	struct xpoll_ctl c[8];
	int32_t res[8];
	int kind, ret, err, must = 0, cmust[8] = { 0 }, arrays_good = 1;
	unsigned int i;

	memset(&b, 0, sizeof(b));
	b.nr = 1 + rnd(rs) % 8;
	for (i = 0; i < b.nr; i++)
		cmust[i] = gen_ctl(rs, xfd, &c[i]);
	b.ctls = (uintptr_t)c;
	b.results = (uintptr_t)res;
	switch (rnd(rs) % 12) {
	case 0:
		b.nr = chance(rs, 2) ? 0 : XPOLL_CTL_BATCH_MAX + 1 + (uint32_t)rnd(rs) % 1000;
		must = 1;
		break;
	case 1:
		b.flags = (uint32_t)rnd(rs) | 1;
		must = 1;
		break;
	case 2:
		b.reserved[rnd(rs) & 1] = rnd(rs) | 1;
		must = 1;
		break;
	case 3:
		/*
		 * ctls[0] unreadable or the array outside user space: EFAULT;
		 * one that straddles into an unmapped page may apply the
		 * changes before it.  Read-only zeros are changes of op 0.
		 */
		arrays_good = 0;
		b.ctls = (uintptr_t)pick_ptr(rs, c, sizeof(c), &kind);
		must = kind == P_NULL || b.ctls >= 0x8000000000000000ULL;
		break;
	case 4:
		/* results[0] unwritable (read-only too): EFAULT */
		arrays_good = 0;
		b.results = (uintptr_t)pick_ptr(rs, res, sizeof(res), &kind);
		must = kind == P_NULL || kind == P_RO ||
		       b.results >= 0x8000000000000000ULL;
		break;
	default:
		break;
	}
	p = pick_ptr(rs, &b, sizeof(b), &kind);
	if (kind == P_GOOD && p != &b)
		memcpy(p, &b, sizeof(b));
	ret = ioctl(xfd, XPOLL_IOC_CTL_BATCH, p);
	err = errno;
	/* read-only memory holds zeros: nr 0, refused */
	if (kind == P_GOOD)
		judge("CTL_BATCH", ret, err, must, 0);
	else
		judge("CTL_BATCH", ret, err, kind != P_MAYBE, 0);
	if (ret >= 0 && kind == P_GOOD && arrays_good) {
		if ((unsigned int)ret != b.nr) {
			atomic_fetch_add(&contract_fail, 1);
			report("CTL_BATCH", ret, 0, "stored fewer results than nr with good arrays");
		} else {
			check_results("CTL_BATCH change", res, cmust, b.nr);
		}
	}
}

/* XPOLL_IOC_SET_PARAMS / GET_PARAMS (busy polling), valid and not. */
static void fz_params(int xfd, uint64_t *rs)
{
	struct xpoll_params pa, *p;
	int kind, ret, err, must = 0;

	memset(&pa, 0, sizeof(pa));
	if (chance(rs, 3)) {
		p = pick_ptr(rs, &pa, sizeof(pa), &kind);
		ret = ioctl(xfd, XPOLL_IOC_GET_PARAMS, p);
		err = errno;
		/* GET writes: read-only memory must fail too */
		judge("GET_PARAMS", ret, err, kind != P_GOOD && kind != P_MAYBE, 0);
		return;
	}
	/* Small times mostly: a socket with a NAPI id would busy-poll. */
	pa.busy_poll_usecs = chance(rs, 8) ? (uint32_t)rnd(rs) : rnd(rs) % 64;
	pa.busy_poll_budget = chance(rs, 4) ? (uint16_t)rnd(rs) : rnd(rs) % 65;
	pa.prefer_busy_poll = chance(rs, 8) ? (uint8_t)rnd(rs) : rnd(rs) & 1;
	if (chance(rs, 10))
		pa.pad = (uint8_t)rnd(rs) | 1;
	if (chance(rs, 10))
		pa.reserved[rnd(rs) & 1] = rnd(rs) | 1;
	must = pa.pad || pa.reserved[0] || pa.reserved[1] ||
	       pa.busy_poll_usecs > 0x7fffffff || pa.prefer_busy_poll > 1;
	p = pick_ptr(rs, &pa, sizeof(pa), &kind);
	if (kind == P_GOOD && p != &pa)
		memcpy(p, &pa, sizeof(pa));
	ret = ioctl(xfd, XPOLL_IOC_SET_PARAMS, p);
	err = errno;
	/* read-only memory holds zeros: a valid setting */
	if (kind == P_GOOD)
		judge("SET_PARAMS", ret, err, must, 0);
	else
		judge("SET_PARAMS", ret, err, kind != P_MAYBE && kind != P_RO, 0);
}

static void fz_unknown(int xfd, uint64_t *rs)
{
	char buf[256];
	unsigned long cmd = bad_cmd(rs);
	int kind, ret;
	void *p = pick_ptr(rs, buf, sizeof(buf), &kind);

	memset(buf, 0, sizeof(buf));
	ret = ioctl(xfd, cmd, p);
	judge("unknown cmd", ret, errno, 1, ENOTTY);
	if (ret >= 0 && verbose)
		printf("# unknown cmd %#lx succeeded\n", cmd);
}

/* XPOLL commands sent to whatever a pool slot holds now (maybe not xpoll) */
static void fz_foreign(uint64_t *rs)
{
	int fd = pick_fd(rs, -1);

	if (fd >= 0 && fd <= 2)
		return;
	switch (rnd(rs) % 3) {
	case 0:
		fz_version(fd, rs);
		break;
	case 1:
		fz_ctl(fd, rs);
		break;
	default:
		fz_wait(fd, rs);
	}
}

static int xpoll_ctl_raw(int xfd, int op, int fd, uint32_t ev, uint64_t data)
{
	struct xpoll_ctl c = { .op = op, .fd = fd, .events = ev, .data = data };

	return ioctl(xfd, XPOLL_IOC_CTL, &c);
}

static int xpoll_wait_raw(int xfd, struct epoll_event *ev, int max, long long ns)
{
	struct xpoll_wait w = {
		.events = (uintptr_t)ev, .maxevents = max, .timeout_ns = ns,
	};

	return ioctl(xfd, XPOLL_IOC_WAIT, &w);
}

/* ---- nesting: a private graph of instances per thread --------------------- */

/*
 * Each fuzz thread keeps a pool of NPI instances and NPE eventfds of its
 * own, moved to descriptor numbers that nothing else here names (pick_fd()
 * stays below 203 or far above the file limit), so its model of the graph
 * is exact: every ADD of an instance into an instance must give the
 * model's answer (EINVAL for itself or EPOLLEXCLUSIVE, ELOOP for a cycle or
 * a chain deeper than XPOLL_MAX_NESTS, EEXIST), every DEL and MOD too;
 * instances are closed in the middle of the graph and re-created; eventfd
 * writes flow through; a wait reports only the tags of the instance's
 * current items, and an instance with a level-triggered path down to a
 * readable eventfd must report something.  (With 6 instances and chains
 * of at most 4 links no file has more than 2 paths of 4 links, so epoll's
 * wakeup-path limits, EINVAL past 10, never apply.)
 *
 * A new descriptor is born at the lowest free number, where the other
 * threads do name numbers; so births happen under pool_births held for
 * writing, while every other fuzz call holds it for reading, and a pool
 * takes new instances from a stock that it refills NSPARE at a time.
 */
#define NPI 6
#define NPE 3
#define NSPARE 16
#define POOL_BASE 2048
#define POOL_SPAN 64
#define POOL_MAXNEST 4		/* XPOLL_MAX_NESTS, epoll's EP_MAX_NESTS */

struct pool {
	int base;
	int inst[NPI];			/* descriptor, or -1 once closed */
	int efd[NPE];
	int efd_ready[NPE];		/* eventfd counter non-zero */
	uint32_t ie[NPI][NPI];		/* events of instance j's item in i; 0: none */
	uint64_t itag[NPI][NPI];
	uint32_t ee[NPI][NPE];		/* events of eventfd k's item in i */
	uint64_t etag[NPI][NPE];
	int spare[NSPARE], nspare;
	uint64_t serial;
};

static pthread_rwlock_t pool_births;
static __thread struct pool pool;
static atomic_long pool_fail, pool_ops, pool_inst_adds, pool_loops,
	pool_closes, pool_live, pool_late;

static void pool_report(const char *what, int ret, int err, const char *why)
{
	atomic_fetch_add(&pool_fail, 1);
	report(what, ret, err, why);
}

/* the call's result must be exactly want (0 or an errno) */
static void pool_expect(const char *what, int ret, int err, int want)
{
	char why[96];

	atomic_fetch_add(&pool_ops, 1);
	judge(what, ret, err, 0, 0);
	if ((ret >= 0 && !want) || (ret < 0 && err == want))
		return;
	snprintf(why, sizeof(why), "the nesting model says %s",
		 want ? strerrorname_np(want) : "success");
	pool_report(what, ret, ret < 0 ? err : 0, why);
}

static int pool_hi(int fd)
{
	int h;

	if (fd < 0)
		return -1;
	h = fcntl(fd, F_DUPFD_CLOEXEC, pool.base);
	close(fd);
	if (h >= pool.base + POOL_SPAN) {
		close(h);
		h = -1;
	}
	return h;
}

static uint64_t pool_tag(void)
{
	return 0xf000000000000000ULL | pool.serial++;
}

static int pool_reaches(int from, int to)
{
	if (from == to)
		return 1;
	for (int c = 0; c < NPI; c++)
		if (pool.ie[from][c] && pool_reaches(c, to))
			return 1;
	return 0;
}

static int pool_height(int i)
{
	int h = 0;

	for (int c = 0; c < NPI; c++)
		if (pool.ie[i][c] && pool_height(c) + 1 > h)
			h = pool_height(c) + 1;
	return h;
}

static int pool_up(int i)
{
	int u = 0;

	for (int p = 0; p < NPI; p++)
		if (pool.ie[p][i] && pool_up(p) + 1 > u)
			u = pool_up(p) + 1;
	return u;
}

static int pool_lt(uint32_t ev)
{
	return (ev & EPOLLIN) && !(ev & (EPOLLET | EPOLLONESHOT));
}

/* a level-triggered path down to an eventfd whose counter is not zero */
static int pool_ready(int i)
{
	for (int k = 0; k < NPE; k++)
		if (pool_lt(pool.ee[i][k]) && pool.efd_ready[k])
			return 1;
	for (int c = 0; c < NPI; c++)
		if (pool_lt(pool.ie[i][c]) && pool_ready(c))
			return 1;
	return 0;
}

static void pool_forget(int i)
{
	for (int c = 0; c < NPI; c++) {
		pool.ie[i][c] = 0;
		pool.ie[c][i] = 0;
	}
	for (int k = 0; k < NPE; k++)
		pool.ee[i][k] = 0;
}

static void pool_open(int i)
{
	pool_forget(i);
	if (!pool.nspare) {
		pthread_rwlock_wrlock(&pool_births);
		while (pool.nspare < NSPARE) {
			int fd = pool_hi(open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC));

			if (fd < 0)
				break;
			pool.spare[pool.nspare++] = fd;
		}
		pthread_rwlock_unlock(&pool_births);
	}
	pool.inst[i] = pool.nspare ? pool.spare[--pool.nspare] : -1;
}

static void pool_init(int tid)
{
	memset(&pool, 0, sizeof(pool));
	pool.base = POOL_BASE + tid * POOL_SPAN;
	pthread_rwlock_wrlock(&pool_births);
	for (int k = 0; k < NPE; k++) {
		pool.efd[k] = pool_hi(eventfd(k == 0, EFD_NONBLOCK | EFD_CLOEXEC));
		pool.efd_ready[k] = k == 0;
	}
	pthread_rwlock_unlock(&pool_births);
	for (int i = 0; i < NPI; i++)
		pool_open(i);
}

static void pool_fini(void)
{
	for (int i = 0; i < NPI; i++)
		if (pool.inst[i] >= 0)
			close(pool.inst[i]);
	for (int k = 0; k < NPE; k++)
		if (pool.efd[k] >= 0)
			close(pool.efd[k]);
	while (pool.nspare)
		close(pool.spare[--pool.nspare]);
}

static uint32_t pool_events(uint64_t *rs)
{
	static const uint32_t m[] = {
		EPOLLIN, EPOLLIN, EPOLLIN | EPOLLET, EPOLLIN | EPOLLONESHOT,
		EPOLLIN | EPOLLRDHUP, EPOLLIN | EPOLLEXCLUSIVE,
	};

	return m[rnd(rs) % (sizeof(m) / sizeof(m[0]))];
}

static void pool_add_inst(int i, int j, uint64_t *rs)
{
	uint32_t ev = pool_events(rs);
	uint64_t tag = pool_tag();
	int want, ret;

	/* epoll_ctl's order: self, EPOLLEXCLUSIVE, loop and depth, EEXIST */
	if (i == j || (ev & EPOLLEXCLUSIVE))
		want = EINVAL;
	else if (pool_reaches(j, i) ||
		 pool_height(j) + 1 + pool_up(i) > POOL_MAXNEST)
		want = ELOOP;
	else
		want = pool.ie[i][j] ? EEXIST : 0;
	ret = xpoll_ctl_raw(pool.inst[i], XPOLL_CTL_ADD, pool.inst[j], ev, tag);
	pool_expect("nest ADD instance", ret, errno, want);
	atomic_fetch_add(&pool_inst_adds, 1);
	if (ret < 0 && errno == ELOOP)
		atomic_fetch_add(&pool_loops, 1);
	if (!ret && !want) {
		pool.ie[i][j] = ev;
		pool.itag[i][j] = tag;
	} else if (!ret && i != j) {
		/* the model is wrong or the kernel is: take the edge back */
		xpoll_ctl_raw(pool.inst[i], XPOLL_CTL_DEL, pool.inst[j], 0, 0);
	}
}

/* a wait of timeout 0: only current tags; a ready path must show */
static void pool_wait(int i)
{
	struct epoll_event ev[64];
	int ret, err, ready = pool_ready(i);

	ret = xpoll_wait_raw(pool.inst[i], ev, 64, 0);
	err = errno;
	pool_expect("nest WAIT", ret, err, 0);
	if (ret == 0 && ready) {
		atomic_fetch_add(&pool_live, 1);
		/* a wakeup that went to another CPU's irq_work: give it time */
		ret = xpoll_wait_raw(pool.inst[i], ev, 64, 50000000);
		err = errno;
		if (ret < 0 && err == EINTR)
			return;		/* the kicker: no verdict */
		pool_expect("nest WAIT", ret, err, 0);
		if (ret > 0)
			atomic_fetch_add(&pool_late, 1);
		else if (ret == 0)
			pool_report("nest WAIT", ret, 0,
				    "a level-triggered path to a readable eventfd reported nothing in 50 ms");
	} else if (ready) {
		atomic_fetch_add(&pool_live, 1);
	}
	for (int n = 0; n < ret; n++) {
		uint64_t t = ev[n].data.u64;
		int known = 0;

		for (int c = 0; c < NPI && !known; c++)
			known = pool.ie[i][c] && pool.itag[i][c] == t;
		for (int k = 0; k < NPE && !known; k++)
			known = pool.ee[i][k] && pool.etag[i][k] == t;
		if (!known)
			pool_report("nest WAIT", ret, 0,
				    "reported a tag that is none of the instance's items");
	}
	/* a one-shot item that fired stays, disarmed: the model keeps it */
}

static void fz_pool(uint64_t *rs)
{
	int i = rnd(rs) % NPI, j = rnd(rs) % NPI, k = rnd(rs) % NPE, ret, want;
	uint64_t tag, v = 1;
	uint32_t ev;

	if (pool.inst[i] < 0 || pool.inst[j] < 0) {
		pool_open(pool.inst[i] < 0 ? i : j);
		return;
	}
	switch (rnd(rs) % 24) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		pool_add_inst(i, j, rs);
		break;
	case 6: case 7:
		ret = xpoll_ctl_raw(pool.inst[i], XPOLL_CTL_DEL, pool.inst[j], 0, 0);
		want = i == j ? EINVAL : pool.ie[i][j] ? 0 : ENOENT;
		pool_expect("nest DEL instance", ret, errno, want);
		if (!ret)
			pool.ie[i][j] = 0;
		break;
	case 8: case 9:
		ev = pool_events(rs);
		tag = pool_tag();
		ret = xpoll_ctl_raw(pool.inst[i], XPOLL_CTL_MOD, pool.inst[j], ev, tag);
		want = i == j || (ev & EPOLLEXCLUSIVE) ? EINVAL : pool.ie[i][j] ? 0 : ENOENT;
		pool_expect("nest MOD instance", ret, errno, want);
		if (!ret) {
			pool.ie[i][j] = ev;
			pool.itag[i][j] = tag;
		}
		break;
	case 10: case 11: case 12:
		ev = pool_events(rs) & ~EPOLLEXCLUSIVE;
		tag = pool_tag();
		if (pool.ee[i][k] && rnd(rs) & 1) {
			ret = xpoll_ctl_raw(pool.inst[i], XPOLL_CTL_DEL, pool.efd[k], 0, 0);
			pool_expect("nest DEL eventfd", ret, errno, 0);
			if (!ret)
				pool.ee[i][k] = 0;
			break;
		}
		ret = xpoll_ctl_raw(pool.inst[i], XPOLL_CTL_ADD, pool.efd[k], ev, tag);
		pool_expect("nest ADD eventfd", ret, errno, pool.ee[i][k] ? EEXIST : 0);
		if (!ret) {
			pool.ee[i][k] = ev;
			pool.etag[i][k] = tag;
		}
		break;
	case 13:
		/* closed in the middle of the graph, sometimes re-created at once */
		close(pool.inst[i]);
		pool.inst[i] = -1;
		pool_forget(i);
		atomic_fetch_add(&pool_closes, 1);
		if (rnd(rs) & 1)
			pool_open(i);
		break;
	case 14: case 15: case 16: case 17:
		if (rnd(rs) % 3) {
			if (write(pool.efd[k], &v, sizeof(v)) == sizeof(v))
				pool.efd_ready[k] = 1;
		} else if (read(pool.efd[k], &v, sizeof(v)) == sizeof(v) ||
			   errno == EAGAIN) {
			pool.efd_ready[k] = 0;
		}
		break;
	default:
		pool_wait(i);
	}
}

/* ---- the ready ring (XPOLL_FEAT_RING) -------------------------------------- */

/*
 * XPOLL_IOC_RING_SETUP's must-fail rules (uapi/linux/xpoll.h, "Setup"),
 * each on an instance of its own so that the one errno is exact: entries
 * 0, not a power of 2 or above XPOLL_RING_MAX_ENTRIES, flags or reserved
 * not 0: EINVAL; items, a user event or a ring already: EBUSY; an item
 * whose file was closed, or deleted, no longer counts.  A good setup's
 * layout is checked, then mmap() with random lengths, offsets, flags and
 * protections (EINVAL for an offset, MAP_PRIVATE, a length past
 * mmap_size; ENODEV on an instance without a ring), the modes of a ring
 * instance (EPOLLET required, EPOLLWAKEUP refused: EINVAL), ENOSPC past
 * entries items, and its WAIT (events or min_events set: EINVAL).  Each
 * fuzz thread also keeps a ring instance of its own, mapped, that the
 * generic calls hit (fz_ctl with the ring's rules, WAIT, CTL_WAIT,
 * harvests, scribbles over its mapping, re-created now and then), and the
 * descriptor pool holds ring instances too.
 */
static int have_ring;
static atomic_long ring_setups, ring_setup_ok, ring_maps, ring_map_ok,
	ring_prefix_ok, ring_prefix_refused, ring_exec_ok, ring_waits,
	ring_wait_ok, ring_harvests, ring_events, ring_recreated, ring_enospc,
	ring_grew;

struct fz_ring {
	int fd;
	unsigned int entries;
	size_t size;
	void *map;
	uint32_t slots_off, ring_off;
};

static __thread struct fz_ring myring = { .fd = -1 };
static __thread int ring_base;	/* RING_BASE + RING_SPAN * thread */

#define RING_BASE 1024
#define RING_SPAN 16

/*
 * A descriptor born for the ring calls, moved to number @slot of the
 * thread's range, out of pick_fd()'s reach (see pool_births): called
 * with pool_births held for writing.
 */
static int ring_hi(int fd, int slot)
{
	int h;

	if (fd < 0)
		return -1;
	h = dup3(fd, ring_base + slot, O_CLOEXEC);
	close(fd);
	return h;
}

/* judge(), where the ring's own errno (EBUSY: setup) is documented too */
static void judge_x(const char *what, int ret, int err, int must_fail, int exact)
{
	if (ret < 0 && err == EBUSY) {
		atomic_fetch_add(&calls, 1);
		atomic_fetch_add(&errno_hist[err], 1);
		if (exact && err != exact && err != EINTR) {
			atomic_fetch_add(&contract_fail, 1);
			report(what, ret, err, "expected another errno");
		}
		return;
	}
	judge(what, ret, err, must_fail, exact);
}

static int ring_setup_raw(int fd, unsigned int entries, struct xpoll_ring_setup *out)
{
	struct xpoll_ring_setup r = { .entries = entries };
	int ret = ioctl(fd, XPOLL_IOC_RING_SETUP, &r);

	if (out)
		*out = r;
	return ret;
}

/* A layout that holds the header, the slots and the ring, page-sized. */
static void check_layout(const struct xpoll_ring_setup *r, unsigned int entries)
{
	if (r->mmap_size % PG || r->slots_off < sizeof(struct xpoll_ring_hdr) ||
	    r->slots_off % 8 || r->ring_off % 4 ||
	    r->ring_off < r->slots_off + (uint64_t)entries * sizeof(struct xpoll_ring_slot) ||
	    r->mmap_size < r->ring_off + (uint64_t)entries * sizeof(uint32_t)) {
		atomic_fetch_add(&contract_fail, 1);
		report("RING_SETUP", 0, 0, "layout does not hold the ring");
	}
}

/*
 * The consumer (uapi "Consumer"), bounded: the mapping is ours to
 * scribble, so any word may be garbage.  Returns the events taken.
 */
static int fz_harvest(struct fz_ring *r, struct epoll_event *ev, int max)
{
	struct xpoll_ring_hdr *h = r->map;
	struct xpoll_ring_slot *slots = (void *)((char *)r->map + r->slots_off);
	uint32_t *ring = (void *)((char *)r->map + r->ring_off);
	uint32_t head, tail, idx, bits, mask = r->entries - 1;
	int n = 0, spins = 0, ovf;

	ovf = __atomic_exchange_n(&h->overflow, 0, __ATOMIC_ACQ_REL);
	tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
	head = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
	while (n < max && (int32_t)(tail - head) > 0 && spins++ < 4096) {
		idx = __atomic_load_n(&ring[head & mask], __ATOMIC_RELAXED);
		if (!__atomic_compare_exchange_n(&h->head, &head, head + 1, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		head++;
		if (idx >= r->entries)
			continue;
		bits = __atomic_exchange_n(&slots[idx].ready, 0, __ATOMIC_ACQ_REL);
		if (bits) {
			ev[n].events = bits;
			ev[n++].data.u64 = slots[idx].data;
		}
	}
	for (uint32_t i = 0; ovf && i < r->entries && n < max; i++) {
		bits = __atomic_exchange_n(&slots[i].ready, 0, __ATOMIC_ACQ_REL);
		if (bits) {
			ev[n].events = bits;
			ev[n++].data.u64 = slots[i].data;
		}
	}
	atomic_fetch_add(&ring_harvests, 1);
	atomic_fetch_add(&ring_events, n);
	return n;
}

/*
 * mmap() of instance @x (@size: its mmap_size, 0: no ring) with random
 * length, offset, flags and protection; then a look at what was mapped.
 */
static void fz_ring_mmap(int x, size_t size, unsigned int entries, uint64_t *rs)
{
	static const int prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ,
		PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC,
		PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	size_t len = size ? size : PG, full = size;
	off_t off = 0;
	int flags = MAP_SHARED, prot = prots[rnd(rs) % 7], must = 0, exact = 0;
	int prefix = 0, ret, err;
	void *m;

	switch (rnd(rs) % 10) {
	case 0:
		len = PG * (1 + rnd(rs) % 4);	/* a prefix, all, or more */
		break;
	case 1:
		len = full + PG * (1 + rnd(rs) % 4);
		break;
	case 2:
		len = full ? full - 1 - rnd(rs) % PG : PG;	/* not page-sized */
		break;
	case 3:
		off = PG * (off_t)(1 + rnd(rs) % 8);
		break;
	case 4:
		flags = MAP_PRIVATE;
		break;
	case 5:
		flags = chance(rs, 2) ? MAP_SHARED_VALIDATE : MAP_SHARED | MAP_POPULATE;
		break;
	case 6:
		len = chance(rs, 2) ? 0 : (size_t)1 << (40 + rnd(rs) % 8);
		break;
	default:
		break;
	}
	if (!len)
		must = 1;	/* mmap(2): EINVAL */
	if (size) {
		size_t pages = (len + PG - 1) / PG * PG;

		if (off || flags == MAP_PRIVATE || pages > full)
			must = 1;
		if ((off || flags == MAP_PRIVATE) && len && len <= full)
			exact = EINVAL;
		prefix = len && pages < full && !off && flags != MAP_PRIVATE &&
			 !(prot & PROT_EXEC);
	} else {
		must = 1;	/* no ring yet: nothing to map */
		if (len && len <= PG && !off && flags != MAP_PRIVATE)
			exact = ENODEV;
	}
	m = mmap(NULL, len, prot, flags, x, off);
	ret = m == MAP_FAILED ? -1 : 0;
	err = errno;
	atomic_fetch_add(&ring_maps, 1);
	atomic_fetch_add(&calls, 1);
	if (ret == 0) {
		atomic_fetch_add(&errno_hist[0], 1);
		atomic_fetch_add(&ring_map_ok, 1);
		if (must) {
			atomic_fetch_add(&contract_fail, 1);
			report("mmap", 0, 0, size ? "mapped with an offset, MAP_PRIVATE or past mmap_size"
						 : "an instance without a ring was mapped");
		}
		ring_prefix_ok += prefix;
		if (prot & PROT_EXEC)
			atomic_fetch_add(&ring_exec_ok, 1);
		if ((prot & PROT_READ) && len >= sizeof(struct xpoll_ring_hdr) &&
		    ((struct xpoll_ring_hdr *)m)->entries != entries) {
			atomic_fetch_add(&contract_fail, 1);
			report("mmap", 0, 0, "hdr.entries is not the setup's");
		}
		if ((prot & PROT_WRITE) && (prot & PROT_READ) && len == full && chance(rs, 2)) {
			struct fz_ring view = { .fd = x, .entries = entries, .size = full,
						.map = m };
			struct epoll_event ev[16];

			/* a second view, harvested from */
			view.slots_off = sizeof(struct xpoll_ring_hdr);
			view.ring_off = view.slots_off + entries * sizeof(struct xpoll_ring_slot);
			fz_harvest(&view, ev, 16);
		}
		if (chance(rs, 8)) {
			madvise(m, len, MADV_DONTNEED);	/* then never touched */
		} else if (chance(rs, 8) && mremap(m, len, len + PG, 0) != MAP_FAILED) {
			/* grown in place: counted (the uapi says nothing) */
			atomic_fetch_add(&ring_grew, 1);
			len += PG;
		}
		munmap(m, len);
		return;
	}
	atomic_fetch_add(&errno_hist[err > 0 && err < 140 ? err : 139], 1);
	if (prefix && err == EINVAL)
		atomic_fetch_add(&ring_prefix_refused, 1);
	if (err != EINVAL && err != ENODEV && err != ENOMEM && err != EACCES &&
	    err != EPERM && err != EOPNOTSUPP) {
		atomic_fetch_add(&bad_errno, 1);
		report("mmap", -1, err, "undocumented errno");
	} else if (exact && err != exact) {
		atomic_fetch_add(&contract_fail, 1);
		report("mmap", -1, err, exact == ENODEV ? "expected ENODEV (no ring yet)"
							: "expected EINVAL");
	} else if (!must && !prefix && !(prot & PROT_EXEC) && size && len == full) {
		atomic_fetch_add(&contract_fail, 1);
		report("mmap", -1, err, "mmap_size bytes at offset 0, MAP_SHARED, refused");
	}
}

/*
 * WAIT on a ring instance: events 0 returns the ring's count (at most
 * maxevents); events or min_events set: EINVAL.
 */
static void fz_ring_wait(int x, uint64_t *rs)
{
	struct epoll_event ev[8];
	struct xpoll_wait w = { .maxevents = 1 + rnd(rs) % 16 };
	int ret, err, must = 0, exact = 0;

	switch (rnd(rs) % 6) {
	case 0:
		w.events = (uintptr_t)ev;
		w.maxevents = 1 + rnd(rs) % 8;
		must = 1;
		exact = EINVAL;
		break;
	case 1:
		w.min_events = 1 + rnd(rs) % (uint32_t)w.maxevents;
		if (chance(rs, 2))
			w.min_wait_ns = rnd(rs) % 1000000;
		must = 1;
		exact = EINVAL;
		break;
	case 2:
		w.timeout_ns = (long long)(rnd(rs) % 2000000);
		break;
	default:
		break;
	}
	ret = ioctl(x, XPOLL_IOC_WAIT, &w);
	err = errno;
	atomic_fetch_add(&ring_waits, 1);
	judge("ring WAIT", ret, err, must, exact);
	if (ret >= 0) {
		atomic_fetch_add(&ring_wait_ok, 1);
		if (ret > w.maxevents) {
			atomic_fetch_add(&contract_fail, 1);
			report("ring WAIT", ret, 0, "more than maxevents");
		}
	}
	if (chance(rs, 4)) {
		/* the same through CTL_WAIT, with no change */
		struct xpoll_ctl_wait cw = { .wait = w };

		cw.wait.timeout_ns = 0;
		ret = ioctl(x, XPOLL_IOC_CTL_WAIT, &cw);
		judge("ring CTL_WAIT", ret, errno, must, exact);
	}
}

/*
 * The rules of a ring instance's items (uapi "Modes"): ADD or MOD
 * without EPOLLET, or with EPOLLWAKEUP, must fail (EINVAL for a change
 * that is otherwise valid, checked in fz_ring_rules()).
 */
static int ring_refuses(const struct xpoll_ctl *c)
{
	return (c->op == XPOLL_CTL_ADD || c->op == XPOLL_CTL_MOD) &&
	       (!(c->events & EPOLLET) || (c->events & EPOLLWAKEUP));
}

static void fz_ring_rules(uint64_t *rs)
{
	struct xpoll_ring_setup r, *p;
	unsigned int entries = 1u << (rnd(rs) % 11);
	int x, e = -1, ret, err, want = 0, kind = P_GOOD, efd[9], ringed = 0;
	int case_no;

	pthread_rwlock_wrlock(&pool_births);
	x = ring_hi(open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC), 0);
	e = ring_hi(eventfd(rnd(rs) & 1, EFD_NONBLOCK | EFD_CLOEXEC), 1);
	for (int i = 0; i < 9; i++)
		efd[i] = ring_hi(eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC), 2 + i);
	pthread_rwlock_unlock(&pool_births);
	if (x < 0 || e < 0)
		goto out;
	memset(&r, 0, sizeof(r));
	r.entries = entries;
	if (chance(rs, 2000))
		r.entries = entries = XPOLL_RING_MAX_ENTRIES;
	case_no = rnd(rs) % 14;
	switch (case_no) {
	case 0:
		r.entries = 0;
		want = EINVAL;
		break;
	case 1:
		do {
			r.entries = (uint32_t)(rnd(rs) % (XPOLL_RING_MAX_ENTRIES * 2));
		} while (!(r.entries & (r.entries - 1)));
		want = EINVAL;
		break;
	case 2:
		r.entries = chance(rs, 2) ? XPOLL_RING_MAX_ENTRIES << (1 + rnd(rs) % 11) :
			    0x80000000u | (uint32_t)rnd(rs);
		want = EINVAL;
		break;
	case 3:
		r.flags = (uint32_t)rnd(rs) | 1u << (rnd(rs) % 32);
		want = EINVAL;
		break;
	case 4:
		r.reserved[rnd(rs) & 1] = rnd(rs) | 1;
		want = EINVAL;
		break;
	case 5:	/* an item: EBUSY */
		if (xpoll_ctl_raw(x, XPOLL_CTL_ADD, e, EPOLLIN | (rnd(rs) & 1 ? EPOLLET : 0), 1) == 0)
			want = EBUSY;
		break;
	case 6: {	/* a user event: EBUSY */
		struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .fd = -1, .events = EPOLLIN,
				       .flags = XPOLL_CTL_USER, .key = rnd(rs) };

		if (ioctl(x, XPOLL_IOC_CTL, &c) == 0)
			want = EBUSY;
		break;
	}
	case 7:	/* the item of a closed file is gone */
		xpoll_ctl_raw(x, XPOLL_CTL_ADD, e, EPOLLIN, 1);
		close(e);
		e = -1;
		break;
	case 8:	/* a deleted item too */
		xpoll_ctl_raw(x, XPOLL_CTL_ADD, e, EPOLLIN, 1);
		xpoll_ctl_raw(x, XPOLL_CTL_DEL, e, 0, 0);
		break;
	case 9:	/* a ring already: EBUSY, whatever the entries */
		if (ring_setup_raw(x, 1u << (rnd(rs) % 8), NULL) == 0)
			want = EBUSY, ringed = 1;
		break;
	default:
		break;
	}
	p = pick_ptr(rs, &r, sizeof(r), &kind);
	if (kind == P_GOOD && p != &r)
		memcpy(p, &r, sizeof(r));
	ret = ioctl(x, XPOLL_IOC_RING_SETUP, p);
	err = errno;
	atomic_fetch_add(&ring_setups, 1);
	if (kind == P_GOOD) {
		judge_x("RING_SETUP", ret, err, want != 0, want);
		if (!want && ret < 0 && err != ENOMEM) {
			atomic_fetch_add(&contract_fail, 1);
			report("RING_SETUP", ret, err, case_no == 7 ?
			       "refused after the item's file was closed" : case_no == 8 ?
			       "refused after the item was deleted" : "a valid setup refused");
		}
	} else	/* read-only zeros: entries 0; the rest cannot be read or written */
		judge_x("RING_SETUP", ret, err, kind != P_MAYBE, 0);
	if (ret == 0 && kind == P_GOOD) {
		struct xpoll_ring_setup r2;
		struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .events = EPOLLIN | EPOLLET };
		int n = entries <= 8 ? (int)entries + 1 : 2;

		if (p != &r)
			memcpy(&r, p, sizeof(r));
		atomic_fetch_add(&ring_setup_ok, 1);
		check_layout(&r, entries);
		for (int i = 0; i < 3; i++)
			fz_ring_mmap(x, r.mmap_size, entries, rs);
		/* once a ring, for good */
		ret = ring_setup_raw(x, 1u << (rnd(rs) % 8), &r2);
		judge_x("RING_SETUP again", ret, errno, 1, EBUSY);
		/* the modes, then ENOSPC past entries items */
		c.fd = efd[0];
		c.events = chance(rs, 2) ? EPOLLIN : EPOLLIN | EPOLLET | EPOLLWAKEUP;
		ret = ioctl(x, XPOLL_IOC_CTL, &c);
		judge("ring ADD without EPOLLET or with EPOLLWAKEUP", ret, errno, 1, EINVAL);
		for (int i = 0; i < n; i++) {
			c.fd = efd[i];
			c.events = EPOLLIN | EPOLLET | (rnd(rs) & 1 ? EPOLLONESHOT : 0);
			c.data = i;
			ret = ioctl(x, XPOLL_IOC_CTL, &c);
			if (i < (int)entries) {
				judge("ring ADD", ret, errno, 0, 0);
				if (ret < 0 && errno != ENOMEM) {
					atomic_fetch_add(&contract_fail, 1);
					report("ring ADD", ret, errno,
					       "an EPOLLET ADD with free slots failed");
				}
			} else {
				judge("ring ADD past entries", ret, errno, 1, ENOSPC);
				atomic_fetch_add(&ring_enospc, 1);
			}
		}
		c.op = XPOLL_CTL_MOD;
		c.fd = efd[0];
		c.events = EPOLLIN | (rnd(rs) & 1 ? EPOLLWAKEUP | EPOLLET : 0);
		ret = ioctl(x, XPOLL_IOC_CTL, &c);
		judge("ring MOD without EPOLLET or with EPOLLWAKEUP", ret, errno, 1, EINVAL);
		for (int i = 0; i < 4; i++)
			fz_ring_wait(x, rs);
		if (chance(rs, 4))
			fz_ring_mmap(x, r.mmap_size, entries, rs);
	} else if (ret < 0 && kind == P_GOOD && want == EBUSY && !ringed && chance(rs, 2)) {
		/* still no ring: nothing to map */
		fz_ring_mmap(x, 0, 0, rs);
	}
out:
	for (int i = 0; i < 9; i++)
		if (efd[i] >= 0)
			close(efd[i]);
	if (e >= 0)
		close(e);
	if (x >= 0)
		close(x);
}

/* RING_SETUP with random fields on whatever a pool slot holds. */
static void fz_ring_setup_foreign(uint64_t *rs)
{
	struct xpoll_ring_setup r;
	int fd = pick_fd(rs, -1), ret, must;

	if (fd >= 0 && fd <= 2)
		return;
	memset(&r, 0, sizeof(r));
	r.entries = chance(rs, 4) ? (uint32_t)rnd(rs) : 1u << (rnd(rs) % 9);
	if (chance(rs, 8))
		r.flags = (uint32_t)rnd(rs);
	if (chance(rs, 8))
		r.reserved[rnd(rs) & 1] = rnd(rs);
	must = !r.entries || (r.entries & (r.entries - 1)) ||
	       r.entries > XPOLL_RING_MAX_ENTRIES || r.flags || r.reserved[0] ||
	       r.reserved[1];
	ret = ioctl(fd, XPOLL_IOC_RING_SETUP, &r);
	atomic_fetch_add(&ring_setups, 1);
	judge_x("RING_SETUP (pool)", ret, errno, must, 0);
	if (ret == 0)
		atomic_fetch_add(&ring_setup_ok, 1);
}

/* The thread's own ring instance: (re)created with random entries, mapped. */
static void myring_open(uint64_t *rs)
{
	struct xpoll_ring_setup r;

	pthread_rwlock_wrlock(&pool_births);
	myring.fd = ring_hi(open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC), RING_SPAN - 1);
	pthread_rwlock_unlock(&pool_births);
	myring.entries = 1u << (rnd(rs) % 9);
	myring.map = NULL;
	if (myring.fd < 0)
		return;
	if (ring_setup_raw(myring.fd, myring.entries, &r)) {
		close(myring.fd);
		myring.fd = -1;
		return;
	}
	myring.size = r.mmap_size;
	myring.slots_off = r.slots_off;
	myring.ring_off = r.ring_off;
	myring.map = mmap(NULL, myring.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  myring.fd, 0);
	if (myring.map == MAP_FAILED) {
		myring.map = NULL;
		atomic_fetch_add(&contract_fail, 1);
		report("mmap", -1, errno, "the thread's ring could not be mapped");
	}
}

static void myring_close(uint64_t *rs)
{
	/* either order: the mapping holds the instance */
	if (chance(rs, 2)) {
		close(myring.fd);
		if (myring.map)
			munmap(myring.map, myring.size);
	} else {
		if (myring.map)
			munmap(myring.map, myring.size);
		close(myring.fd);
	}
	myring.fd = -1;
	myring.map = NULL;
}

static void fz_ctl_on(int xfd, uint64_t *rs, int ring);

/* One call on the thread's ring instance. */
static void fz_myring(uint64_t *rs)
{
	struct epoll_event ev[32];

	if (myring.fd < 0) {
		myring_open(rs);
		return;
	}
	switch (rnd(rs) % 12) {
	case 0: case 1: case 2: case 3:
		fz_ctl_on(myring.fd, rs, 1);
		break;
	case 4: case 5:
		fz_ring_wait(myring.fd, rs);
		break;
	case 6: case 7:
		if (myring.map)
			fz_harvest(&myring, ev, 32);
		break;
	case 8:
		if (myring.map) {
			/* our own mapping: scribbled, and ours to live with */
			size_t off = rnd(rs) % (myring.size / 4) * 4;

			if (chance(rs, 2))
				off = chance(rs, 2) ? 0 : offsetof(struct xpoll_ring_hdr, overflow);
			*(uint32_t *)((char *)myring.map + off) = (uint32_t)rnd(rs);
		}
		break;
	case 9:
		fz_ring_mmap(myring.fd, myring.size, myring.entries, rs);
		break;
	case 10:
		fz_ctl_wait(myring.fd, rs);
		break;
	default:
		if (chance(rs, 8)) {
			myring_close(rs);
			myring_open(rs);
			atomic_fetch_add(&ring_recreated, 1);
		}
	}
}

/* ---- threads ----------------------------------------------------------------- */

static void on_sig(int sig)
{
	(void)sig;
}

static pthread_t th[MAXTH];

static void *kicker(void *arg)
{
	uint64_t rs = seed ^ 0x5555;

	(void)arg;
	/* until every fuzz thread is joined: one may sit in an endless wait */
	while (!atomic_load(&kicker_stop)) {
		usleep(500 + rnd(&rs) % 2000);
		pthread_kill(th[rnd(&rs) % nthreads], SIGUSR1);
	}
	return NULL;
}

static void *fuzzer(void *arg)
{
	uint64_t rs = (seed + 1) * 0x9e3779b97f4a7c15ULL + (uintptr_t)arg * 0xbf58476d1ce4e5b9ULL;
	int self = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);

	if (self < 0 || map_pages()) {
		perror("open " XPOLL_DEVICE);
		atomic_fetch_add(&contract_fail, 1);
		return NULL;
	}
	rnd(&rs);
	pool_init((int)(uintptr_t)arg);
	ring_base = RING_BASE + RING_SPAN * (int)(uintptr_t)arg;
	while (!atomic_load(&stop)) {
		int w = rnd(&rs) % 24;

		/*
		 * One turn in 24 on the thread's graph of instances: its calls
		 * do real work (nested re-polls, closes inside a graph) where
		 * most others fail at once, so more would crowd them out.
		 */
		if (w == 23) {
			fz_pool(&rs);
			goto next;
		}
		/* and the ring: one turn in 24, as the graph's */
		if (w == 22 && have_ring) {
			/* the rules take pool_births for writing: rarely */
			if (rnd(&rs) % 8 == 0)
				fz_ring_rules(&rs);
			else
				fz_myring(&rs);
			goto next;
		}
		pthread_rwlock_rdlock(&pool_births);
		switch (rnd(&rs) % 20) {
		case 0:
			recycle_slot(&rs);
			break;
		case 1: case 2:
			flip_readiness(&rs);
			break;
		case 3:
			if (have_ring && chance(&rs, 4))
				fz_ring_setup_foreign(&rs);
			else
				fz_version(self, &rs);
			break;
		case 4:
			fz_unknown(self, &rs);
			break;
		case 5:
			fz_params(chance(&rs, 4) ? pick_fd(&rs, self) : self, &rs);
			break;
		case 6: case 7: case 8:
			fz_foreign(&rs);
			break;
		case 9: case 10: case 11: case 12: case 13:
			fz_ctl(chance(&rs, 2) ? self : pick_fd(&rs, self), &rs);
			break;
		case 14:
			fz_ctl_wait(chance(&rs, 4) ? pick_fd(&rs, self) : self, &rs);
			break;
		case 15:
			fz_batch(chance(&rs, 4) ? pick_fd(&rs, self) : self, &rs);
			break;
		default:
			fz_wait(chance(&rs, 2) ? self : pick_fd(&rs, self), &rs);
		}
		pthread_rwlock_unlock(&pool_births);
next:
		if (atomic_load(&calls) >= max_calls)
			atomic_store(&stop, 1);
	}
	pool_fini();
	if (myring.fd >= 0)
		myring_close(&rs);
	close(self);
	return NULL;
}

static void usage(const char *a0)
{
	fprintf(stderr,
		"usage: %s [--seed S] [--calls N] [--seconds S] [--threads T] [-v]\n"
		"  stops at N calls (default 200000) or S seconds (default 30),\n"
		"  whichever comes first; --threads 1 makes a seed exactly replayable\n",
		a0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sig };	/* no SA_RESTART */
	struct rlimit rl = { 4096, 4096 };
	pthread_rwlockattr_t rwa;
	struct timespec t0, t1;
	pthread_t kick;
	double el;
	int i, fails = 0, x;

	seed = (unsigned long long)time(NULL) ^ (unsigned long long)getpid() << 20;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--calls") && i + 1 < argc)
			max_calls = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			max_secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-v"))
			verbose = 1;
		else
			usage(argv[0]);
	}
	if (nthreads < 1 || nthreads > MAXTH)
		usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setrlimit(RLIMIT_NOFILE, &rl);
	printf("TAP version 13\n");
	x = open(XPOLL_DEVICE, O_RDWR);
	if (x < 0) {
		printf("1..0 # SKIP cannot open %s: %s\n", XPOLL_DEVICE, strerror(errno));
		return 4;
	}
	{
		struct xpoll_version v = { 0 };

		have_ring = !ioctl(x, XPOLL_IOC_VERSION, &v) &&
			    (v.features & XPOLL_FEAT_RING);
	}
	close(x);
	printf("1..5\n");
	printf("# seed: %llu threads: %d calls: %ld seconds: %.0f\n", seed, nthreads,
	       max_calls, max_secs);
	printf("# replay: %s --seed %llu --threads %d --calls %ld --seconds %.0f\n",
	       argv[0], seed, nthreads, max_calls, max_secs);

	ro_page = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro_page == MAP_FAILED)
		return 2;

	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&pool_births, &rwa);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* writes to sockets whose peer is gone */
	{
		uint64_t rs = seed | 1;

		for (i = 0; i < NSLOT; i++)
			atomic_store(&slot_fd[i], open_object(&rs));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, fuzzer, (void *)(intptr_t)i);
	pthread_create(&kick, NULL, kicker, NULL);
	while (!atomic_load(&stop)) {
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (el >= max_secs)
			atomic_store(&stop, 1);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	atomic_store(&kicker_stop, 1);
	pthread_join(kick, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	el = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (i = 0; i < NSLOT; i++)
		if (slot_fd[i] >= 0)
			close(slot_fd[i]);

	printf("# calls: %ld seconds: %.1f calls_per_s: %.0f\n", atomic_load(&calls), el,
	       atomic_load(&calls) / el);
	printf("# results: success %ld", atomic_load(&errno_hist[0]));
	for (i = 1; i < 140; i++)
		if (atomic_load(&errno_hist[i]))
			printf(", %s %ld", i == 139 ? "other" : strerrorname_np(i),
			       atomic_load(&errno_hist[i]));
	printf("\n");
	fails += !!bad_errno;
	printf("%sok 1 every call returned success or a documented errno (%ld not)\n",
	       bad_errno ? "not " : "", atomic_load(&bad_errno));
	fails += !!contract_fail;
	printf("%sok 2 contract: must-fail inputs failed, outputs sane (%ld violations)\n",
	       contract_fail ? "not " : "", atomic_load(&contract_fail));
	/* a fuzzer that made no calls proves nothing */
	fails += atomic_load(&calls) < 1000;
	printf("%sok 3 fuzzer ran (%ld calls)\n", atomic_load(&calls) < 1000 ? "not " : "",
	       atomic_load(&calls));
	printf("# nesting: %ld calls on the pools, %ld ADDs of an instance (%ld ELOOP), %ld instances closed in the graph, %ld waits with a ready path (%ld needed the 50 ms wait)\n",
	       atomic_load(&pool_ops), atomic_load(&pool_inst_adds),
	       atomic_load(&pool_loops), atomic_load(&pool_closes),
	       atomic_load(&pool_live), atomic_load(&pool_late));
	printf("# user events: %ld CTLs (%ld succeeded); valid min-waits: %ld (%ld returned events)\n",
	       atomic_load(&uev_calls), atomic_load(&uev_ok),
	       atomic_load(&minwait_calls), atomic_load(&minwait_ok));
	/* a pool that never nested or never refused a loop proves nothing */
	x = atomic_load(&pool_fail) || atomic_load(&pool_inst_adds) < 100 ||
	    !atomic_load(&pool_loops);
	fails += x;
	printf("%sok 4 nesting: every call on the instance graphs gave the model's result, no lost event (%ld violations)\n",
	       x ? "not " : "", atomic_load(&pool_fail));
	printf("# ring: %ld setups (%ld succeeded), %ld mmaps (%ld succeeded; prefixes: %ld mapped, %ld refused; %ld with PROT_EXEC mapped), %ld WAITs on ring instances (%ld succeeded), %ld harvests (%ld events), %ld ENOSPC past entries, threads' rings re-created %ld times, %ld ring mappings grown by mremap\n",
	       atomic_load(&ring_setups), atomic_load(&ring_setup_ok),
	       atomic_load(&ring_maps), atomic_load(&ring_map_ok),
	       atomic_load(&ring_prefix_ok), atomic_load(&ring_prefix_refused),
	       atomic_load(&ring_exec_ok), atomic_load(&ring_waits),
	       atomic_load(&ring_wait_ok), atomic_load(&ring_harvests),
	       atomic_load(&ring_events), atomic_load(&ring_enospc),
	       atomic_load(&ring_recreated), atomic_load(&ring_grew));
	if (!have_ring) {
		printf("ok 5 ring: setup, mmap, WAIT rules # SKIP the module has no XPOLL_FEAT_RING\n");
	} else {
		/* a ring that was never set up, mapped or waited on proves nothing */
		x = !atomic_load(&ring_setup_ok) || !atomic_load(&ring_map_ok) ||
		    !atomic_load(&ring_wait_ok) || !atomic_load(&ring_enospc);
		fails += x;
		printf("%sok 5 ring: RING_SETUP, mmap and WAIT of ring instances exercised (violations count in 1 and 2)\n",
		       x ? "not " : "");
	}
	printf("# seed: %llu (replay with --seed %llu --threads 1 for one exact sequence)\n",
	       seed, seed);
	return fails ? 1 : 0;
}
