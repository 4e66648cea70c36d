// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 "Interface": the ioctls from 32-bit userspace on a 64-bit
 * kernel (compat_ioctl).  Built twice: compat_32 (-m32, the real test)
 * and compat (64-bit, the same assertions as a reference).  Each test on
 * epoll and xpoll.  Run through the compat32 script, which skips when
 * the kernel cannot run 32-bit programs.
 */
#include "xp_test.h"
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
