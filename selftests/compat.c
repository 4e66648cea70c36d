// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 "Interface": the ioctls from 32-bit userspace on a 64-bit
 * kernel (compat_ioctl).  Built twice: compat_32 (-m32, the real test)
 * and compat (64-bit, the same assertions as a reference).  Each test on
 * epoll and xpoll.  Run through the compat32 script, which skips when
 * the kernel cannot run 32-bit programs.
 */
#include "xp_test.h"
#include <stddef.h>
#include <sys/mman.h>

FIXTURE(compat) { int be, p; };
XP_BACKENDS(compat);

FIXTURE_SETUP(compat)
{
	XP_REQUIRE(variant->be);
	self->be = variant->be;
	self->p = pl_create(self->be, 1);
	ASSERT_LE(0, self->p) TH_LOG("%s", strerror(-self->p));
}

FIXTURE_TEARDOWN(compat)
{
	close(self->p);
}

#define CTL(op, fd, ev, d) pl_ctl(self->be, self->p, op, fd, ev, d)

TEST(layouts)
{
	/* the ABI: same sizes on 32 and 64 bits */
	EXPECT_EQ(32, sizeof(struct xpoll_version));
	EXPECT_EQ(40, sizeof(struct xpoll_ctl));
	EXPECT_EQ(56, sizeof(struct xpoll_wait));
	EXPECT_EQ(40, sizeof(struct xpoll_ctl_batch));
	EXPECT_EQ(80, sizeof(struct xpoll_ctl_wait));
	EXPECT_EQ(24, sizeof(struct xpoll_params));
	EXPECT_EQ(12, sizeof(struct epoll_event));
	/* the fields that took reserved ones' places, at the same offsets */
	EXPECT_EQ(12, offsetof(struct xpoll_ctl, flags));
	EXPECT_EQ(16, offsetof(struct xpoll_ctl, data));
	EXPECT_EQ(24, offsetof(struct xpoll_ctl, key));
	EXPECT_EQ(8, sizeof(((struct xpoll_ctl *)0)->key));
	EXPECT_EQ(32, offsetof(struct xpoll_ctl, reserved));
	EXPECT_EQ(8, sizeof(((struct xpoll_ctl *)0)->reserved));
	EXPECT_EQ(32, offsetof(struct xpoll_wait, sigsetsize));
	EXPECT_EQ(36, offsetof(struct xpoll_wait, min_events));
	EXPECT_EQ(4, sizeof(((struct xpoll_wait *)0)->min_events));
	EXPECT_EQ(40, offsetof(struct xpoll_wait, min_wait_ns));
	EXPECT_EQ(8, sizeof(((struct xpoll_wait *)0)->min_wait_ns));
	EXPECT_EQ(48, offsetof(struct xpoll_wait, reserved));
	EXPECT_EQ(8, sizeof(((struct xpoll_wait *)0)->reserved));
	EXPECT_EQ(24, offsetof(struct xpoll_ctl_wait, wait));
	EXPECT_EQ(60, offsetof(struct xpoll_ctl_wait, wait.min_events));
	EXPECT_EQ(64, offsetof(struct xpoll_ctl_wait, wait.min_wait_ns));
	EXPECT_EQ(72, offsetof(struct xpoll_ctl_wait, wait.reserved));
	/* min_wait_ns is signed: negative values must be seen as such */
	EXPECT_TRUE((((struct xpoll_wait){ .min_wait_ns = -1 }).min_wait_ns) < 0);
	TH_LOG("%zu-bit process", sizeof(void *) * 8);
}

TEST(version_ioctl)
{
	struct xpoll_version v = { 0 };
	int p;

	XP_REQUIRE(BE_XPOLL);
	p = xp_open(O_CLOEXEC);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, ioctl(p, XPOLL_IOC_VERSION, &v));
	EXPECT_EQ(XPOLL_ABI_VERSION, v.abi_version);
	v.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(p, _IO(XPOLL_IOC_MAGIC, 0x0f), NULL));
	EXPECT_EQ(ENOTTY, errno);
	close(p);
}

/* The two user pointers inside struct xpoll_ctl_batch, from 32 bits. */
TEST(ctl_batch_pointers)
{
	struct xpoll_ctl c[2] = {
		{ .op = EPOLL_CTL_ADD, .events = EPOLLIN, .data = 0x1122334455667788ULL },
		{ .op = EPOLL_CTL_ADD, .fd = -1, .events = EPOLLIN },
	};
	int32_t res[2] = { 9, 9 };
	struct xpoll_ctl_batch b = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = 2,
	};
	struct epoll_event ev;
	int p, efd;

	XP_REQUIRE(BE_XPOLL);
	p = xp_open(O_CLOEXEC);
	efd = eventfd(1, EFD_CLOEXEC);
	ASSERT_LE(0, p);
	c[0].fd = efd;
	ASSERT_EQ(2, ioctl(p, XPOLL_IOC_CTL_BATCH, &b));
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(-EBADF, res[1]);
	ASSERT_EQ(1, xp_wait_raw(p, &ev, 1, 0, NULL));
	EXPECT_EQ(0x1122334455667788ULL, ev.data.u64);
	close(efd);
	close(p);
}

/* The four user pointers of struct xpoll_ctl_wait, from 32 bits. */
TEST(ctl_wait_pointers)
{
	struct xpoll_ctl c[2] = {
		{ .op = EPOLL_CTL_ADD, .events = EPOLLIN, .data = 0x8877665544332211ULL },
		{ .op = EPOLL_CTL_ADD, .fd = -1, .events = EPOLLIN },
	};
	int32_t res[2] = { 9, 9 };
	struct epoll_event ev[2];
	sigset_t none;
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = 1,
		.wait = { .events = (uintptr_t)ev, .maxevents = 2,
			  .timeout_ns = -1, .sigmask = (uintptr_t)&none,
			  .sigsetsize = 8 },
	};
	int p, efd;

	XP_REQUIRE(BE_XPOLL);
	sigemptyset(&none);
	p = xp_open(O_CLOEXEC);
	efd = eventfd(1, EFD_CLOEXEC);
	ASSERT_LE(0, p);
	c[0].fd = efd;
	ASSERT_EQ(1, ioctl(p, XPOLL_IOC_CTL_WAIT, &cw));
	EXPECT_EQ(1u, cw.nr_done);
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(0x8877665544332211ULL, ev[0].data.u64);
	/*
	 * An events buffer a 32-bit caller cannot have (high bits set) is
	 * refused before any change, even when no event would be stored.
	 */
	if (sizeof(void *) == 4) {
		struct xpoll_ctl_wait bad = cw;

		bad.wait.events |= 1ULL << 32;
		bad.wait.timeout_ns = 300000000;
		bad.nr = 0;
		EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_CTL_WAIT, &bad));
		EXPECT_EQ(EFAULT, errno);
	}
	/* A failed change: no sleep, EBADF in results[1]. */
	cw.ctls = (uintptr_t)&c[1];
	cw.results = (uintptr_t)&res[1];
	ASSERT_EQ(1, ioctl(p, XPOLL_IOC_CTL_WAIT, &cw));
	EXPECT_EQ(-EBADF, res[1]);
	close(efd);
	close(p);
}

/*
 * The user pointers inside the structs are 64 bits for every caller: one
 * with high bits set is an address a 32-bit program has nothing at, so
 * EFAULT, never cut down to the 32-bit address under it (which here is a
 * good buffer, so a cut-down pointer would succeed).
 */
TEST(high_pointer_bits_fault)
{
	const uint64_t hi = 1ULL << 63;
	struct xpoll_ctl c = { .op = EPOLL_CTL_ADD, .events = EPOLLIN };
	int32_t res = 9;
	struct xpoll_ctl_batch b = {
		.ctls = (uintptr_t)&c | hi, .results = (uintptr_t)&res, .nr = 1,
	};
	struct epoll_event ev;
	struct xpoll_wait w = {
		.events = (uintptr_t)&ev | hi, .maxevents = 1,
	};
	uint64_t mask = 0;
	int p, efd;

	XP_REQUIRE(BE_XPOLL);
	p = xp_open(O_CLOEXEC);
	efd = eventfd(1, EFD_CLOEXEC);
	ASSERT_LE(0, p);
	c.fd = efd;
	EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_CTL_BATCH, &b));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(9, res);
	b.ctls = (uintptr_t)&c;
	ASSERT_EQ(1, ioctl(p, XPOLL_IOC_CTL_BATCH, &b));
	ASSERT_EQ(0, res);
	EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_WAIT, &w));
	EXPECT_EQ(EFAULT, errno);
	w.events = (uintptr_t)&ev;
	w.sigmask = (uintptr_t)&mask | hi;
	w.sigsetsize = 8;
	EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_WAIT, &w));
	EXPECT_EQ(EFAULT, errno);
	w.sigmask = (uintptr_t)&mask;
	EXPECT_EQ(1, ioctl(p, XPOLL_IOC_WAIT, &w));
	close(efd);
	close(p);
}

static uint64_t xp_features(int p)
{
	struct xpoll_version v = { 0 };

	return ioctl(p, XPOLL_IOC_VERSION, &v) ? 0 : v.features;
}

static int uev(int p, uint32_t op, int fd, uint64_t key, uint32_t ev,
	       uint64_t data)
{
	struct xpoll_ctl c = { .op = op, .fd = fd, .events = ev,
			       .flags = XPOLL_CTL_USER, .data = data,
			       .key = key };

	return ioctl(p, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

/*
 * A user event (feature bit 10) from 32 bits: its 64-bit key and data
 * reach the kernel whole (a key cut to 32 bits names another event),
 * ADD, TRIGGER, the wait, TRIGGER of another instance's event from
 * inside an XPOLL_IOC_CTL_WAIT, CLEAR, DEL.
 */
TEST(user_event_add_trigger_wait)
{
	const uint64_t key = 0xfedcba9876543210ULL;
	const uint64_t data = 0x1122334455667788ULL;
	struct epoll_event ev[2];
	struct xpoll_ctl c = { .op = XPOLL_CTL_TRIGGER, .fd = -1,
			       .events = EPOLLIN, .flags = XPOLL_CTL_USER,
			       .key = key };
	int32_t res = 9;
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)&c, .results = (uintptr_t)&res, .nr = 1,
		.wait = { .events = (uintptr_t)ev, .maxevents = 2 },
	};
	int p, q;

	XP_REQUIRE(BE_XPOLL);
	p = xp_open(O_CLOEXEC);
	q = xp_open(O_CLOEXEC);
	ASSERT_LE(0, p);
	ASSERT_LE(0, q);
	EXPECT_TRUE(xp_features(p) & XPOLL_FEAT_USER_EVENTS);
	ASSERT_EQ(0, uev(p, XPOLL_CTL_ADD, -1, key, EPOLLIN, data));
	EXPECT_EQ(-EEXIST, uev(p, XPOLL_CTL_ADD, -1, key, EPOLLIN, data));
	EXPECT_EQ(0, xp_wait_raw(p, ev, 2, 0, NULL));
	/* the low or high half of the key alone is no such event */
	EXPECT_EQ(-ENOENT, uev(p, XPOLL_CTL_TRIGGER, -1, (uint32_t)key,
			       EPOLLIN, 0));
	EXPECT_EQ(-ENOENT, uev(p, XPOLL_CTL_TRIGGER, -1, key >> 32, EPOLLIN, 0));
	EXPECT_EQ(0, xp_wait_raw(p, ev, 2, 0, NULL));
	ASSERT_EQ(0, uev(p, XPOLL_CTL_TRIGGER, -1, key, EPOLLIN, 0));
	ASSERT_EQ(1, xp_wait_raw(p, ev, 2, 0, NULL));
	EXPECT_EQ(data, ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, ev[0].events);
	/* level-triggered: still there until CLEAR */
	ASSERT_EQ(0, uev(p, XPOLL_CTL_CLEAR, -1, key, EPOLLIN, 0));
	EXPECT_EQ(0, xp_wait_raw(p, ev, 2, 0, NULL));
	/* q's XPOLL_IOC_CTL_WAIT triggers p's event, then polls q */
	c.fd = p;
	EXPECT_EQ(0, ioctl(q, XPOLL_IOC_CTL_WAIT, &cw));
	EXPECT_EQ(1u, cw.nr_done);
	EXPECT_EQ(0, res);
	ASSERT_EQ(1, xp_wait_raw(p, ev, 2, 0, NULL));
	EXPECT_EQ(data, ev[0].data.u64);
	EXPECT_EQ(0, uev(p, XPOLL_CTL_DEL, -1, key, 0, 0));
	EXPECT_EQ(-ENOENT, uev(p, XPOLL_CTL_DEL, -1, key, 0, 0));
	EXPECT_EQ(0, xp_wait_raw(p, ev, 2, 0, NULL));
	close(q);
	close(p);
}

static int min_wait(int p, struct epoll_event *ev, int max, uint32_t min_ev,
		    int64_t min_ns, int64_t timeout_ns)
{
	struct xpoll_wait w = { .events = (uintptr_t)ev, .maxevents = max,
				.timeout_ns = timeout_ns,
				.min_events = min_ev, .min_wait_ns = min_ns };
	int r = ioctl(p, XPOLL_IOC_WAIT, &w);

	return r < 0 ? -errno : r;
}

/*
 * Minimum-wait batching (feature bit 12) from 32 bits: min_events and
 * the 64-bit signed min_wait_ns reach the kernel as they were set, in
 * XPOLL_IOC_WAIT and in XPOLL_IOC_CTL_WAIT.
 */
TEST(min_wait_batching)
{
	struct epoll_event ev[4];
	struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .events = EPOLLIN,
			       .data = 12 };
	struct xpoll_ctl_wait cw = { .nr = 1 };
	int32_t res = 9;
	int p, e[3];
	int64_t t0, dt;
	uint64_t one = 1;

	XP_REQUIRE(BE_XPOLL);
	p = xp_open(O_CLOEXEC);
	ASSERT_LE(0, p);
	EXPECT_TRUE(xp_features(p) & XPOLL_FEAT_MIN_WAIT);
	for (int i = 0; i < 3; i++) {
		ASSERT_LE(0, e[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	}
	ASSERT_EQ(8, write(e[0], &one, 8));
	ASSERT_EQ(0, xp_ctl_raw(p, XPOLL_CTL_ADD, e[0], EPOLLIN, 10));
	ASSERT_EQ(0, xp_ctl_raw(p, XPOLL_CTL_ADD, e[1], EPOLLIN, 11));
	c.fd = e[2];
	EXPECT_EQ(-EINVAL, min_wait(p, ev, 4, 1, -1, 0));
	EXPECT_EQ(-EINVAL, min_wait(p, ev, 4, 1, INT64_MIN, 0));
	EXPECT_EQ(-EINVAL, min_wait(p, ev, 4, 5, 0, 0));
	EXPECT_EQ(-EINVAL, min_wait(p, ev, 4, 0, 1, 0));
	/*
	 * One event of the two: it waits the 100 ms of min_wait_ns (not
	 * the 3 s timeout, not 0), then returns the one it has.
	 */
	t0 = now_ns();
	ASSERT_EQ(1, min_wait(p, ev, 4, 2, 100000000, 3000000000LL));
	dt = now_ns() - t0;
	EXPECT_LE(100000000, dt);
	EXPECT_GT(1500000000, dt);
	EXPECT_EQ(10, ev[0].data.u64);
	/* both ready: min_events 2 is met at once, min_wait_ns 3 s unused */
	ASSERT_EQ(8, write(e[1], &one, 8));
	t0 = now_ns();
	ASSERT_EQ(2, min_wait(p, ev, 4, 2, 3000000000LL, 5000000000LL));
	EXPECT_GT(1500000000, now_ns() - t0);
	/*
	 * The same through XPOLL_IOC_CTL_WAIT, with a third added there:
	 * e[2] is not readable, 2 of 3, so min_wait_ns applies...
	 */
	cw.ctls = (uintptr_t)&c;
	cw.results = (uintptr_t)&res;
	cw.nr = 1;
	cw.wait.events = (uintptr_t)ev;
	cw.wait.maxevents = 4;
	cw.wait.timeout_ns = 5000000000LL;
	cw.wait.min_events = 3;
	cw.wait.min_wait_ns = 100000000;
	t0 = now_ns();
	EXPECT_EQ(2, ioctl(p, XPOLL_IOC_CTL_WAIT, &cw));
	dt = now_ns() - t0;
	EXPECT_LE(100000000, dt);
	EXPECT_GT(1500000000, dt);
	EXPECT_EQ(1u, cw.nr_done);
	EXPECT_EQ(0, res);
	/* ...and with it readable, 3 of 3 at once */
	ASSERT_EQ(8, write(e[2], &one, 8));
	cw.nr = 0;
	cw.wait.min_wait_ns = 3000000000LL;
	t0 = now_ns();
	EXPECT_EQ(3, ioctl(p, XPOLL_IOC_CTL_WAIT, &cw));
	EXPECT_GT(1500000000, now_ns() - t0);
	/* a negative min_wait_ns is refused, nothing applied */
	cw.nr = 1;
	cw.wait.min_wait_ns = -1;
	c.op = XPOLL_CTL_DEL;
	EXPECT_EQ(-1, ioctl(p, XPOLL_IOC_CTL_WAIT, &cw));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(3, fdinfo_items(p));
	for (int i = 0; i < 3; i++)
		close(e[i]);
	close(p);
}

TEST_F(compat, data_and_events_round_trip)
{
	struct epoll_event ev[8];
	uint64_t d[3] = { 0xdeadbeefcafef00dULL, 1, 0x8000000000000000ULL };
	int efd[3];

	for (int i = 0; i < 3; i++) {
		efd[i] = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd[i], EPOLLIN | EPOLLOUT, d[i]));
	}
	int n = pl_wait(self->be, self->p, ev, 8, 0, NULL);

	ASSERT_EQ(3, n);
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(EPOLLIN | EPOLLOUT, ev_find(ev, n, d[i]));
	}
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, efd[0], EPOLLOUT, 0x0123456789abcdefULL));
	ASSERT_EQ(0, CTL(EPOLL_CTL_DEL, efd[1], 0, 0));
	n = pl_wait(self->be, self->p, ev, 8, 0, NULL);
	ASSERT_EQ(2, n);
	EXPECT_EQ(EPOLLOUT, ev_find(ev, n, 0x0123456789abcdefULL));
	for (int i = 0; i < 3; i++)
		close(efd[i]);
}

TEST_F(compat, ctl_errors)
{
	int efd = eventfd(0, EFD_CLOEXEC);

	EXPECT_EQ(-EBADF, CTL(EPOLL_CTL_ADD, -1, EPOLLIN, 0));
	EXPECT_EQ(-ENOENT, CTL(EPOLL_CTL_MOD, efd, EPOLLIN, 0));
	EXPECT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 0));
	EXPECT_EQ(-EEXIST, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 0));
	EXPECT_EQ(-EINVAL, CTL(EPOLL_CTL_ADD, self->p, EPOLLIN, 0));
	close(efd);
}

TEST_F(compat, efault_and_maxevents)
{
	struct epoll_event ev[2];
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_TRUE(none != MAP_FAILED);
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 5));
	EXPECT_EQ(-EFAULT, pl_wait(self->be, self->p, none, 2, 0, NULL));
	EXPECT_EQ(1, pl_wait(self->be, self->p, ev, 2, 0, NULL));
	EXPECT_EQ(5, ev[0].data.u64);
	EXPECT_EQ(-EINVAL, pl_wait(self->be, self->p, ev, 0, 0, NULL));
	munmap(none, 4096);
	close(efd);
}

static volatile int seen;
static void on_usr1(int s)
{
	(void)s;
	seen++;
}

TEST_F(compat, sigmask_and_timeout)
{
	struct epoll_event ev[2];
	sigset_t blk, during, now;
	int64_t t0;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR1);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &blk, NULL));
	/* a timeout in ns, the mask restored after it */
	sigemptyset(&during);
	t0 = now_ns();
	EXPECT_EQ(0, pl_wait(self->be, self->p, ev, 2, 30000000LL, &during));
	EXPECT_LE(30000000LL, now_ns() - t0);
	sigprocmask(SIG_BLOCK, NULL, &now);
	EXPECT_TRUE(sigismember(&now, SIGUSR1));
	/* a pending signal the sigmask unblocks: EINTR at once */
	raise(SIGUSR1);
	EXPECT_EQ(-EINTR, pl_wait(self->be, self->p, ev, 2, -1, &during));
	EXPECT_EQ(1, seen);
	sigprocmask(SIG_BLOCK, NULL, &now);
	EXPECT_TRUE(sigismember(&now, SIGUSR1));
}

TEST_F(compat, nested_and_polled)
{
	struct pollfd pfd = { .fd = self->p, .events = POLLIN };
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 1));
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents);
	close(efd);
}

XP_NO_HOOK
XP_MAIN
