// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 3: transfer of events to userspace.  Events arriving
 * while another thread copies events out are not lost, EFAULT on the
 * user buffer loses none, a signal ends a blocking wait with EINTR and
 * the sigmask form restores the mask as epoll_pwait does, timeouts honour
 * nanoseconds, maxevents is bounded as in epoll.  Each on both backends.
 */
#include "xp_test.h"
#include <limits.h>
#include <sys/mman.h>

FIXTURE(xfer) { int be, p; };
XP_BACKENDS(xfer);

FIXTURE_SETUP(xfer)
{
	XP_REQUIRE(variant->be);
	self->be = variant->be;
	self->p = pl_create(self->be, 1);
	ASSERT_LE(0, self->p) TH_LOG("%s", strerror(-self->p));
}

FIXTURE_TEARDOWN(xfer)
{
	close(self->p);
}

#define CTL(op, fd, ev, d) pl_ctl(self->be, self->p, op, fd, ev, d)
#define POLL0(ev) pl_poll0(self->be, self->p, ev)

/* ---- no event lost while events are being copied out ---- */

#define NE 64
struct ovf {
	int be, p, efd[NE];
	volatile int stop;
	uint64_t sent;
};

static void *writer_fn(void *arg)
{
	struct ovf *o = arg;
	uint64_t one = 1;
	unsigned int seed = 1;

	while (!o->stop) {
		int i = rand_r(&seed) % NE;

		if (write(o->efd[i], &one, 8) == 8)
			__atomic_add_fetch(&o->sent, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST_F_TIMEOUT(xfer, no_event_lost_under_concurrent_wakeups, 120)
{
	struct epoll_event ev[NE];
	struct ovf o = { .be = self->be, .p = self->p };
	pthread_t w[2];
	uint64_t got = 0, v;
	int64_t end;

	for (int i = 0; i < NE; i++) {
		o.efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		/* ET: an event lost is never reported again */
		ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, o.efd[i], EPOLLIN | EPOLLET, i));
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, writer_fn, &o);
	end = now_ns() + 2000000000LL;
	for (unsigned int k = 0; now_ns() < end; k++) {
		/* small and large batches: long copy-outs and many of them */
		int n = pl_wait(self->be, self->p, ev, 1 + (int)(k * 7 % NE),
				10000000LL, NULL);

		for (int i = 0; i < n; i++)
			if (read(o.efd[ev[i].data.u64], &v, 8) == 8)
				got += v;
	}
	o.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	/* Whatever is left must be announced: drain by events only. */
	for (;;) {
		int n = pl_wait(self->be, self->p, ev, NE, 200000000LL, NULL);

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			if (read(o.efd[ev[i].data.u64], &v, 8) == 8)
				got += v;
	}
	EXPECT_EQ(o.sent, got);
	for (int i = 0; i < NE; i++) {
		EXPECT_EQ(-1, read(o.efd[i], &v, 8))
			TH_LOG("eventfd %d holds %" PRIu64 " with no event", i, v);
		close(o.efd[i]);
	}
	TH_LOG("%s: %" PRIu64 " writes, all seen", be_name[self->be], o.sent);
}

/* ---- EFAULT ---- */

static void *pages(int n)
{
	void *p = mmap(NULL, 4096 * n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

TEST_F(xfer, efault_loses_no_event)
{
	struct epoll_event ev[4];
	char *pg = pages(2);
	int a = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	int b = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	int c = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_NE(NULL, pg);
	ASSERT_EQ(0, mprotect(pg + 4096, 4096, PROT_NONE));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, a, EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, b, EPOLLIN | EPOLLET, 2));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, c, EPOLLIN | EPOLLONESHOT, 3));
	/* the whole buffer faults: nothing delivered, nothing lost */
	ASSERT_EQ(-EFAULT, pl_wait(self->be, self->p,
				   (struct epoll_event *)(pg + 4096), 4, 0, NULL));
	ASSERT_EQ(-EFAULT, pl_wait(self->be, self->p,
				   (struct epoll_event *)(pg + 4096), 4, 0, NULL));
	/* room for exactly one event before the hole: 1 delivered */
	struct epoll_event *one = (struct epoll_event *)(pg + 4096 - sizeof(*one));

	ASSERT_EQ(1, pl_wait(self->be, self->p, one, 4, 0, NULL));
	uint64_t first = one->data.u64;
	int n = POLL0(ev);

	ASSERT_EQ(2, n) TH_LOG("events lost after EFAULT");
	EXPECT_EQ(-1, ev_find(ev, n, first));
	for (uint64_t d = 1; d <= 3; d++) {
		EXPECT_TRUE(d == first || ev_find(ev, n, d) == EPOLLIN);
	}
	/* ET and ONESHOT were consumed now, exactly once */
	ASSERT_EQ(0, POLL0(ev));
	munmap(pg, 8192);
	close(a); close(b); close(c);
}

/*
 * A fault part-way through a long transfer (xpoll stores events in chunks
 * of 16: this one falls in the second chunk) delivers the events before
 * it, and loses and repeats none: the undelivered items stay ready and
 * armed, whatever their mode.
 */
#define NFAULT 40
TEST_F(xfer, efault_in_a_later_chunk_loses_no_event)
{
	static const uint32_t mode[3] = { 0, EPOLLET, EPOLLONESHOT };
	struct epoll_event ev[64], *room;
	int efd[NFAULT], seen[NFAULT] = { 0 }, n;
	char *pg = pages(2);

	ASSERT_NE(NULL, pg);
	ASSERT_EQ(0, mprotect(pg + 4096, 4096, PROT_NONE));
	for (int i = 0; i < NFAULT; i++) {
		ASSERT_LE(0, efd[i] = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));
		ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd[i], EPOLLIN | mode[i % 3], i));
	}
	/* Room for 21 events before the hole. */
	room = (struct epoll_event *)(pg + 4096 - 21 * sizeof(*room));
	ASSERT_EQ(21, pl_wait(self->be, self->p, room, NFAULT, 0, NULL));
	for (int i = 0; i < 21; i++) {
		ASSERT_GT(NFAULT, room[i].data.u64);
		seen[room[i].data.u64]++;
	}
	n = POLL0(ev);
	for (int i = 0; i < n; i++)
		seen[ev[i].data.u64]++;
	for (int i = 0; i < NFAULT; i++) {
		/* Level-triggered: in both waits if in the first. */
		int lt_twice = !mode[i % 3] && ev_find(ev, n, i) >= 0 &&
			       seen[i] == 2;

		EXPECT_TRUE(seen[i] == 1 || lt_twice)
			TH_LOG("%s: item %d seen %d times", be_name[self->be],
			       i, seen[i]);
	}
	/* Now only the level-triggered ones are left. */
	EXPECT_EQ((NFAULT + 2) / 3, POLL0(ev));
	munmap(pg, 8192);
	for (int i = 0; i < NFAULT; i++)
		close(efd[i]);
}

TEST_F(xfer, events_outside_user_space_is_efault)
{
	/* access_ok fails before anything is looked at */
	EXPECT_EQ(-EFAULT, pl_wait(self->be, self->p,
				   (struct epoll_event *)0xffff888000000000ULL,
				   4, 0, NULL));
}

/* ---- signals ---- */

static volatile int sig_seen;
static void on_sig(int s)
{
	(void)s;
	sig_seen++;
}

struct sw {
	int be, p;
	pid_t tid;
	int ret;
	const sigset_t *mask;
	int64_t timeout;
	sigset_t after;	/* the thread's mask after the wait */
	int seen_before_return;
};

static void *sw_fn(void *arg)
{
	struct sw *s = arg;
	struct epoll_event ev[4];

	s->tid = gettid_();
	s->ret = pl_wait(s->be, s->p, ev, 4, s->timeout, s->mask);
	pthread_sigmask(SIG_BLOCK, NULL, &s->after);
	return NULL;
}

static void install(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = on_sig, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static int blocked_wait_signalled(struct __test_metadata *_metadata, int be,
				  int p, int flags)
{
	struct sw s = { .be = be, .p = p, .timeout = -1 };
	pthread_t th;

	install(SIGUSR1, flags);
	pthread_create(&th, NULL, sw_fn, &s);
	while (!s.tid)
		msleep(1);
	EXPECT_TRUE(wait_sleeping(s.tid, 2000));
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	EXPECT_EQ(1, sig_seen);
	return s.ret;
}

TEST_F_TIMEOUT(xfer, signal_ends_blocking_wait_with_eintr, 30)
{
	EXPECT_EQ(-EINTR, blocked_wait_signalled(_metadata, self->be, self->p, 0));
}

TEST_F_TIMEOUT(xfer, eintr_even_with_sa_restart, 30)
{
	/* epoll_wait is never restarted, whatever SA_RESTART says */
	EXPECT_EQ(-EINTR, blocked_wait_signalled(_metadata, self->be, self->p,
						 SA_RESTART));
}

TEST_F_TIMEOUT(xfer, sigmask_unblocks_during_wait_and_is_restored, 30)
{
	sigset_t blk, during;
	struct sw s = { .be = self->be, .p = self->p, .timeout = -1,
			.mask = &during };
	pthread_t th;

	install(SIGUSR1, 0);
	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR1);
	sigaddset(&blk, SIGUSR2);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &blk, NULL));
	/* during the wait: SIGUSR2 stays blocked, SIGUSR1 gets through */
	sigemptyset(&during);
	sigaddset(&during, SIGUSR2);
	pthread_create(&th, NULL, sw_fn, &s);
	while (!s.tid)
		msleep(1);
	ASSERT_TRUE(wait_sleeping(s.tid, 2000));
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, s.ret);
	EXPECT_EQ(1, sig_seen);
	/* the caller's mask is back: both blocked again */
	EXPECT_TRUE(sigismember(&s.after, SIGUSR1));
	EXPECT_TRUE(sigismember(&s.after, SIGUSR2));
}

TEST_F_TIMEOUT(xfer, sigmask_pending_signal_interrupts_at_once, 30)
{
	sigset_t blk, during, now;
	struct epoll_event ev[4];

	install(SIGUSR1, 0);
	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR1);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &blk, NULL));
	raise(SIGUSR1);
	ASSERT_EQ(0, sig_seen);
	sigemptyset(&during);
	int64_t t0 = now_ns();

	EXPECT_EQ(-EINTR, pl_wait(self->be, self->p, ev, 4, 5000000000LL, &during));
	EXPECT_GT(1000000000LL, now_ns() - t0);
	EXPECT_EQ(1, sig_seen);
	sigprocmask(SIG_BLOCK, NULL, &now);
	EXPECT_TRUE(sigismember(&now, SIGUSR1));
}

TEST_F_TIMEOUT(xfer, sigmask_restored_after_timeout, 30)
{
	sigset_t blk, during, now;
	struct epoll_event ev[4];

	install(SIGUSR1, 0);
	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR1);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &blk, NULL));
	sigemptyset(&during);
	EXPECT_EQ(0, pl_wait(self->be, self->p, ev, 4, 20000000LL, &during));
	sigprocmask(SIG_BLOCK, NULL, &now);
	EXPECT_TRUE(sigismember(&now, SIGUSR1));
	/* the reverse: blocked only during the wait, delivered after */
	ASSERT_EQ(0, sigprocmask(SIG_UNBLOCK, &blk, NULL));
	struct sw s = { .be = self->be, .p = self->p, .timeout = 300000000LL,
			.mask = &blk };
	pthread_t th;

	pthread_create(&th, NULL, sw_fn, &s);
	while (!s.tid)
		msleep(1);
	ASSERT_TRUE(wait_sleeping(s.tid, 2000));
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	EXPECT_EQ(0, s.ret) TH_LOG("a signal blocked by the sigmask interrupted");
	EXPECT_EQ(1, sig_seen) TH_LOG("the signal was not delivered after");
	EXPECT_FALSE(sigismember(&s.after, SIGUSR1));
}

TEST_F(xfer, bad_sigsetsize_is_einval)
{
	struct epoll_event ev[4];
	sigset_t m;
	unsigned int sizes[] = { 0, 4, 16, 128 };

	sigemptyset(&m);
	for (int i = 0; i < 4; i++) {
		int r;

		if (self->be == BE_EPOLL || xp_emulate()) {
			struct __kernel_timespec ts = { 0, 0 };

			r = syscall(SYS_epoll_pwait2, self->p, ev, 4, &ts, &m,
				    sizes[i]);
		} else {
			struct xpoll_wait w = {
				.events = (uintptr_t)ev, .maxevents = 4,
				.sigmask = (uintptr_t)&m, .sigsetsize = sizes[i],
			};

			r = ioctl(self->p, XPOLL_IOC_WAIT, &w);
		}
		EXPECT_EQ(-1, r) TH_LOG("sigsetsize %u", sizes[i]);
		EXPECT_EQ(EINVAL, errno);
	}
}

/* ---- timeouts ---- */

static int64_t timed_wait(int be, int p, int64_t ns, int *ret)
{
	struct epoll_event ev[4];
	int64_t t0 = now_ns();

	*ret = pl_wait(be, p, ev, 4, ns, NULL);
	return now_ns() - t0;
}

TEST_F(xfer, timeout_honours_nanoseconds)
{
	/* never early; late by at most a generous slack (TCG, KASAN) */
	int64_t ts[] = { 1, 1000, 300000, 1500000, 20000000, 100000000 };
	int64_t slack = 700000000;
	int r;

	for (int i = 0; i < 6; i++) {
		int64_t el = timed_wait(self->be, self->p, ts[i], &r);

		EXPECT_EQ(0, r);
		EXPECT_LE(ts[i], el) TH_LOG("timeout %" PRId64 " ns returned after %"
					    PRId64 " ns", ts[i], el);
		EXPECT_GT(ts[i] + slack, el);
	}
}

TEST_F(xfer, timeout_zero_returns_at_once)
{
	int r;
	int64_t el = timed_wait(self->be, self->p, 0, &r);

	EXPECT_EQ(0, r);
	EXPECT_GT(200000000LL, el);
}

static void *late_writer(void *arg)
{
	uint64_t one = 1;

	msleep(200);
	if (write(*(int *)arg, &one, 8) != 8)
		abort();
	return NULL;
}

TEST_F(xfer, negative_timeout_blocks_until_event)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), r;
	pthread_t th;
	int64_t el;

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 1));
	/* the clock starts before the writer's 200 ms do */
	int64_t t0 = now_ns();

	pthread_create(&th, NULL, late_writer, &efd);
	timed_wait(self->be, self->p, -1, &r);
	el = now_ns() - t0;
	pthread_join(th, NULL);
	EXPECT_EQ(1, r);
	EXPECT_LE(200000000LL, el);
	/* any negative value is "forever" */
	uint64_t v;

	ASSERT_EQ(8, read(efd, &v, 8));
	t0 = now_ns();
	pthread_create(&th, NULL, late_writer, &efd);
	timed_wait(self->be, self->p, INT64_MIN, &r);
	el = now_ns() - t0;
	pthread_join(th, NULL);
	EXPECT_EQ(1, r);
	EXPECT_LE(200000000LL, el);
	close(efd);
}

/* ---- maxevents ---- */

TEST_F(xfer, maxevents_bounds_as_epoll)
{
	struct epoll_event ev[4];
	int max_ok = INT_MAX / (int)sizeof(struct epoll_event);

	EXPECT_EQ(-EINVAL, pl_wait(self->be, self->p, ev, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, pl_wait(self->be, self->p, ev, -1, 0, NULL));
	EXPECT_EQ(-EINVAL, pl_wait(self->be, self->p, ev, INT_MIN, 0, NULL));
	EXPECT_EQ(-EINVAL, pl_wait(self->be, self->p, ev, max_ok + 1, 0, NULL));
	EXPECT_EQ(-EINVAL, pl_wait(self->be, self->p, ev, INT_MAX, 0, NULL));
	/*
	 * The largest allowed count is fine with nothing ready, if the whole
	 * range (2 GB) is user space: a buffer low in the address space, not
	 * on the stack near its top (both epoll and xpoll check access_ok).
	 */
	void *low = mmap((void *)0x200000000ULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	ASSERT_TRUE(low != MAP_FAILED);
	EXPECT_EQ(0, pl_wait(self->be, self->p, low, max_ok, 0, NULL));
	/* (where the range ends past user space, 6.1's access_ok only
	 * checks the sign bit of the end: not asserted here; a kernel
	 * address is, in events_outside_user_space_is_efault) */
	munmap(low, 4096);
}

TEST_F(xfer, maxevents_limits_and_rest_comes_next)
{
	struct epoll_event ev[8];
	int efd[5], seen[5] = { 0 };

	for (int i = 0; i < 5; i++) {
		efd[i] = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd[i], EPOLLIN | EPOLLET, i));
	}
	for (int r = 0; r < 3; r++) {
		int n = pl_wait(self->be, self->p, ev, 2, 0, NULL);

		ASSERT_EQ(r < 2 ? 2 : 1, n);
		for (int i = 0; i < n; i++)
			seen[ev[i].data.u64]++;
	}
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(1, seen[i]) TH_LOG("item %d", i);
	}
	ASSERT_EQ(0, POLL0(ev));
	/* LT: the reported ones go to the back, so all get their turn */
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 5; i++) {
		ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, efd[i], EPOLLIN, i));
	}
	for (int r = 0; r < 5; r++) {
		int n = pl_wait(self->be, self->p, ev, 1, 0, NULL);

		ASSERT_EQ(1, n);
		seen[ev[0].data.u64]++;
	}
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(1, seen[i]) TH_LOG("LT item %d starved", i);
		close(efd[i]);
	}
}

TEST(xpoll_wait_reserved_fields_must_be_zero)
{
	struct epoll_event ev[4];
	int p;

	XP_REQUIRE(BE_XPOLL);
	p = xp_open(O_CLOEXEC);
	ASSERT_LE(0, p);
	/* flags (no bit defined) and the one reserved field left */
	for (int f = 0; f < 4; f++) {
		struct xpoll_wait w = { .events = (uintptr_t)ev, .maxevents = 4 };

		if (f == 0)
			w.flags = 1;
		else if (f == 1)
			w.flags = 0x80000000u;
		else if (f == 2)
			w.reserved = 1;
		else
			w.reserved = 1ULL << 63;
		errno = 0;
		EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_WAIT, &w));
		EXPECT_EQ(EINVAL, errno) TH_LOG("field %d", f);
	}
	close(p);
}

XP_NO_HOOK
XP_MAIN
