// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 15, part 1: XPOLL_IOC_CTL_WAIT, changes then a wait in one call.
 * Every rule of uapi/linux/xpoll.h: results and nr_done, a failed change
 * turns the wait into a poll, a fault halfway stops the changes there,
 * each errno with nothing applied, the signal mask and EINTR; and a run
 * of random turns that must equal the same epoll_ctl() calls followed by
 * epoll_pwait2(), event for event.
 */
#include "xp_test.h"

static int ctl_wait(int x, const struct xpoll_ctl *c, int32_t *res,
		    uint32_t nr, uint32_t *done, struct epoll_event *ev,
		    int max, int64_t ns, const sigset_t *mask)
{
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = nr,
		.nr_done = 12345,
		.wait = { .events = (uintptr_t)ev, .maxevents = max,
			  .timeout_ns = ns },
	};
	int r;

	if (mask) {
		cw.wait.sigmask = (uintptr_t)mask;
		cw.wait.sigsetsize = 8;
	}
	r = ioctl(x, XPOLL_IOC_CTL_WAIT, &cw);
	if (done)
		*done = cw.nr_done;
	return r < 0 ? -errno : r;
}

static struct xpoll_ctl add(int fd, uint32_t ev, uint64_t data)
{
	return (struct xpoll_ctl){ .op = XPOLL_CTL_ADD, .fd = fd,
				   .events = ev, .data = data };
}

FIXTURE(cw) { int x, e[4]; };
FIXTURE_SETUP(cw)
{
	XP_REQUIRE(BE_XPOLL);
	self->x = xp_open(O_CLOEXEC);
	ASSERT_LE(0, self->x);
	for (int i = 0; i < 4; i++)
		ASSERT_LE(0, self->e[i] = eventfd(i & 1, EFD_CLOEXEC | EFD_NONBLOCK));
}
FIXTURE_TEARDOWN(cw)
{
	close(self->x);
	for (int i = 0; i < 4; i++)
		close(self->e[i]);
}

TEST_F(cw, changes_then_events)
{
	struct xpoll_ctl c[3] = {
		add(self->e[0], EPOLLIN, 10), add(self->e[1], EPOLLIN, 11),
		add(self->e[3], EPOLLIN, 13),
	};
	int32_t res[3] = { 7, 7, 7 };
	struct epoll_event ev[8];
	uint32_t done;

	/* e[1] and e[3] are readable: their events come back. */
	ASSERT_EQ(2, ctl_wait(self->x, c, res, 3, &done, ev, 8, -1, NULL));
	EXPECT_EQ(3u, done);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(0, res[i]);
	ev_sort(ev, 2);
	EXPECT_EQ(11u, ev[0].data.u64);
	EXPECT_EQ(13u, ev[1].data.u64);
	/* nr 0: a plain wait, here with a timeout that runs out. */
	int64_t t0;

	c[0] = (struct xpoll_ctl){ .op = XPOLL_CTL_DEL, .fd = self->e[1] };
	c[1] = (struct xpoll_ctl){ .op = XPOLL_CTL_DEL, .fd = self->e[3] };
	ASSERT_EQ(0, ctl_wait(self->x, c, res, 2, &done, ev, 8, 0, NULL));
	EXPECT_EQ(2u, done);
	t0 = now_ns();
	ASSERT_EQ(0, ctl_wait(self->x, NULL, NULL, 0, &done, ev, 8,
			      50000000, NULL));
	EXPECT_LE(45000000, now_ns() - t0);
	EXPECT_EQ(0u, done);
}

/* kqueue's rule: a failed change is reported at once, no sleep. */
TEST_F(cw, failed_change_returns_at_once)
{
	struct xpoll_ctl c[4] = {
		add(self->e[0], EPOLLIN, 10),
		add(self->e[0], EPOLLIN, 10),		/* EEXIST */
		add(-1, EPOLLIN, 0),			/* EBADF */
		add(self->e[2], EPOLLIN, 12),		/* still applied */
	};
	int32_t res[4];
	struct epoll_event ev[8];
	uint32_t done;
	int64_t t0 = now_ns();

	ASSERT_EQ(0, ctl_wait(self->x, c, res, 4, &done, ev, 8, -1, NULL));
	EXPECT_GT(1000000000LL, now_ns() - t0);
	EXPECT_EQ(4u, done);
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(-EEXIST, res[1]);
	EXPECT_EQ(-EBADF, res[2]);
	EXPECT_EQ(0, res[3]);
	EXPECT_EQ(2, fdinfo_items(self->x));
}

/* A change array that runs into an unmapped page stops there. */
TEST_F(cw, fault_halfway_stops_the_changes)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct xpoll_ctl *c, c2[3];
	struct epoll_event ev[8];
	int32_t res[3], *r2;
	uint32_t done;
	int64_t t0;

	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(0, munmap(m + pg, pg));
	c = (struct xpoll_ctl *)(m + pg) - 2;	/* ctls[2] is unmapped */
	c[0] = add(self->e[0], EPOLLIN, 10);
	c[1] = add(self->e[2], EPOLLIN, 12);
	t0 = now_ns();
	ASSERT_EQ(0, ctl_wait(self->x, c, res, 3, &done, ev, 8, -1, NULL));
	EXPECT_GT(1000000000LL, now_ns() - t0);
	EXPECT_EQ(2u, done);
	EXPECT_EQ(2, fdinfo_items(self->x));
	/*
	 * results[1] unmapped: ctls[1] is applied, then its result cannot
	 * be stored; nr_done counts it, and the wait does not sleep.
	 */
	c2[0] = add(self->e[1], EPOLLIN, 11);
	c2[1] = add(self->e[3], EPOLLIN, 13);
	c2[2] = add(self->e[0], EPOLLIN, 10);
	r2 = (int32_t *)(m + pg) - 1;	/* r2[1] is unmapped */
	t0 = now_ns();
	ASSERT_LE(0, ctl_wait(self->x, c2, r2, 3, &done, ev, 8, -1, NULL));
	EXPECT_GT(1000000000LL, now_ns() - t0);
	EXPECT_EQ(2u, done);
	EXPECT_EQ(0, r2[0]);
	EXPECT_EQ(4, fdinfo_items(self->x));
	/* ctls[0] itself unreadable: EFAULT, nothing applied. */
	c = (struct xpoll_ctl *)(m + pg);
	EXPECT_EQ(-EFAULT, ctl_wait(self->x, c, res, 1, &done, ev, 8, 0, NULL));
	EXPECT_EQ(4, fdinfo_items(self->x));
	munmap(m, pg);
}

/* Each refusal comes before any change: nothing is applied. */
TEST_F(cw, errors_apply_nothing)
{
	struct xpoll_ctl c[1] = { add(self->e[1], EPOLLIN, 11) };
	struct xpoll_ctl_wait cw;
	struct epoll_event ev[4];
	int32_t res[1];
	sigset_t mask;

	sigemptyset(&mask);
#define CW_BASE() (struct xpoll_ctl_wait){ .ctls = (uintptr_t)c, \
		.results = (uintptr_t)res, .nr = 1, \
		.wait = { .events = (uintptr_t)ev, .maxevents = 4 } }
#define EXPECT_REFUSED(err, how) do { cw = CW_BASE(); how; \
		EXPECT_EQ(-1, ioctl(self->x, XPOLL_IOC_CTL_WAIT, &cw)); \
		EXPECT_EQ(err, errno); \
		EXPECT_EQ(0, fdinfo_items(self->x)) TH_LOG(#how); } while (0)
	EXPECT_REFUSED(EINVAL, cw.nr = XPOLL_CTL_BATCH_MAX + 1);
	EXPECT_REFUSED(EINVAL, cw.wait.flags = 1);
	EXPECT_REFUSED(EINVAL, cw.wait.reserved = 1);
	EXPECT_REFUSED(EINVAL, cw.wait.reserved = 1ULL << 63);
	/* the min-wait rules (selftests/minwait.c has the rest) */
	EXPECT_REFUSED(EINVAL, cw.wait.min_events = 5);
	EXPECT_REFUSED(EINVAL, cw.wait.min_wait_ns = 1);
	EXPECT_REFUSED(EINVAL, (cw.wait.min_events = 1,
				cw.wait.min_wait_ns = -1));
	EXPECT_REFUSED(EINVAL, cw.wait.maxevents = 0);
	EXPECT_REFUSED(EINVAL, cw.wait.maxevents = -1);
	EXPECT_REFUSED(EINVAL, (cw.wait.sigmask = (uintptr_t)&mask,
				cw.wait.sigsetsize = 4));
	EXPECT_REFUSED(EFAULT, (cw.wait.sigmask = 8, cw.wait.sigsetsize = 8));
	EXPECT_REFUSED(EFAULT, cw.wait.events = 0xffffffff81000000ull);
	EXPECT_REFUSED(EFAULT, cw.ctls = 0xffffffff81000000ull);
	EXPECT_REFUSED(EFAULT, cw.results = 8);
	EXPECT_EQ(-1, ioctl(self->x, XPOLL_IOC_CTL_WAIT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* nr_done must be writable: a read-only struct is refused. */
	void *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	cw = CW_BASE();
	memcpy(ro, &cw, sizeof(cw));
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->x, XPOLL_IOC_CTL_WAIT, ro));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, fdinfo_items(self->x));
	munmap(ro, 4096);
#undef EXPECT_REFUSED
#undef CW_BASE
}

static void on_usr1(int s)
{
	(void)s;
}

/* The temporary mask and EINTR as XPOLL_IOC_WAIT: the changes stay. */
TEST_F(cw, signal_mask_and_eintr)
{
	struct xpoll_ctl c[1] = { add(self->e[0], EPOLLIN, 10) };
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct epoll_event ev[4];
	sigset_t block, none, now;
	int32_t res[1];
	uint32_t done;
	pid_t pid;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&none);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &block, NULL));
	pid = fork();
	if (pid == 0) {
		msleep(200);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	/* SIGUSR1 blocked outside, open during the wait: EINTR. */
	EXPECT_EQ(-EINTR, ctl_wait(self->x, c, res, 1, &done, ev, 4, -1,
				   &none));
	EXPECT_EQ(1u, done);
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(1, fdinfo_items(self->x));
	ASSERT_EQ(0, sigprocmask(SIG_SETMASK, NULL, &now));
	EXPECT_TRUE(sigismember(&now, SIGUSR1));
	waitpid(pid, NULL, 0);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

/*
 * Random turns of an event loop: a few changes, then a wait, on epoll as
 * epoll_ctl() calls and epoll_pwait2(), on xpoll as one XPOLL_IOC_CTL_WAIT;
 * every result and every event (sorted) must be equal.
 */
static uint32_t rnd32(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*seed >> 33);
}

#define RND() rnd32(&seed)

TEST(turns_equal_epoll_ctl_then_pwait2)
{
	enum { NF = 8, TURNS = 400 };
	int ep = epoll_create1(EPOLL_CLOEXEC), x = xp_open(O_CLOEXEC), e[NF];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int bad = 0;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, ep);
	ASSERT_LE(0, x);
	for (int i = 0; i < NF; i++)
		ASSERT_LE(0, e[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	for (int t = 0; t < TURNS && bad < 5; t++) {
		struct epoll_event eev[NF], xev[NF];
		struct xpoll_ctl c[4];
		int32_t res[4];
		uint32_t done;
		int nc, ne, nx, max;

		nc = RND() % 4;
		for (int k = 0; k < nc; k++) {
			int f = RND() % NF;
			uint32_t evm = EPOLLIN | (RND() % 3 ? 0 : EPOLLET) |
				       (RND() % 5 ? 0 : EPOLLONESHOT);

			c[k] = (struct xpoll_ctl){ .op = 1 + RND() % 3,
				.fd = e[f], .events = evm, .data = f };
		}
		/* Readiness comes and goes between turns. */
		for (int k = 0; k < 2; k++) {
			uint64_t v = 1;
			int f = RND() % NF;

			if (RND() % 2) {
				if (write(e[f], &v, 8) != 8)
					bad++;
			} else if (read(e[f], &v, 8) < 0 && errno != EAGAIN) {
				bad++;
			}
		}
		max = 1 + RND() % NF;
		for (int k = 0; k < nc; k++) {
			struct epoll_event ee = { .events = c[k].events,
						  .data.u64 = c[k].data };
			int r = epoll_ctl(ep, c[k].op, c[k].fd, &ee);

			res[k] = r ? -errno : 0;
		}
		ne = pl_wait(BE_EPOLL, ep, eev, max, 0, NULL);
		{
			int32_t xr[4];

			nx = ctl_wait(x, c, xr, nc, &done, xev, max, 0, NULL);
			for (int k = 0; k < nc; k++)
				if (xr[k] != res[k]) {
					TH_LOG("turn %d change %d: epoll %d, xpoll %d",
					       t, k, res[k], xr[k]);
					bad++;
				}
		}
		if (ne != nx) {
			TH_LOG("turn %d: epoll %d events, xpoll %d", t, ne, nx);
			bad++;
			continue;
		}
		if (ne > 0) {
			ev_sort(eev, ne);
			ev_sort(xev, nx);
			for (int k = 0; k < ne; k++)
				if (eev[k].events != xev[k].events ||
				    eev[k].data.u64 != xev[k].data.u64) {
					TH_LOG("turn %d event %d differs", t, k);
					bad++;
				}
		}
	}
	EXPECT_EQ(0, bad);
	for (int i = 0; i < NF; i++)
		close(e[i]);
	close(ep);
	close(x);
}

XP_NO_HOOK
XP_MAIN
