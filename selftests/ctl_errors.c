// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 1: the interest list and epoll_ctl(2)'s errors.  Every
 * test runs the same inputs on an epoll instance and on an xpoll
 * instance and asserts the errno epoll gives, for both, and that both
 * agree.  ELOOP is in nesting.c, ENOSPC in limits.c.
 */
#include "xp_test.h"
#include <sys/mman.h>

FIXTURE(ctl) {
	int p[2];	/* the instance under test, per backend */
	int rd, wr;	/* a pipe: rd is an always-pollable target */
	int efd;	/* a readable eventfd */
};

FIXTURE_SETUP(ctl)
{
	int pp[2];

	if (!xp_present())
		XP_SKIP("%s: %s missing (module not loaded)", _metadata->name,
			XPOLL_DEVICE);
	self->p[BE_EPOLL] = pl_create(BE_EPOLL, 1);
	self->p[BE_XPOLL] = pl_create(BE_XPOLL, 1);
	ASSERT_LE(0, self->p[BE_EPOLL]);
	ASSERT_LE(0, self->p[BE_XPOLL]);
	ASSERT_EQ(0, pipe2(pp, O_NONBLOCK | O_CLOEXEC));
	self->rd = pp[0];
	self->wr = pp[1];
	self->efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->efd);
}

FIXTURE_TEARDOWN(ctl)
{
	close(self->p[0]);
	close(self->p[1]);
	close(self->rd);
	close(self->wr);
	close(self->efd);
}

/* Run stmt (using be and p) on both backends; r[be] = its value. */
#define ON_BOTH(r, stmt) \
	for (int be = 0; be < 2; be++) { \
		int p = self->p[be]; \
		(void)p; \
		r[be] = (stmt); \
	}

/* Both backends gave `want`, hence also the same result. */
#define EXPECT_BOTH(want, r, what) do { \
	EXPECT_EQ(want, r[BE_EPOLL]) TH_LOG("epoll: %s: got %d (%s)", what, \
		r[BE_EPOLL], strerror(-r[BE_EPOLL])); \
	EXPECT_EQ(want, r[BE_XPOLL]) TH_LOG("xpoll: %s: got %d (%s)", what, \
		r[BE_XPOLL], strerror(-r[BE_XPOLL])); \
	EXPECT_EQ(r[BE_EPOLL], r[BE_XPOLL]); \
} while (0)

TEST_F(ctl, add_del_ok)
{
	int r[2];

	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(0, r, "add");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, self->rd, EPOLLOUT, 2));
	EXPECT_BOTH(0, r, "mod");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, self->rd, 0, 0));
	EXPECT_BOTH(0, r, "del");
}

TEST_F(ctl, add_twice_is_eexist)
{
	int r[2];

	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(0, r, "first add");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(-EEXIST, r, "same add");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd,
			  EPOLLOUT | EPOLLET, 9));
	EXPECT_BOTH(-EEXIST, r, "add with other events");
}

TEST_F(ctl, mod_or_del_unknown_is_enoent)
{
	int r[2];

	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(-ENOENT, r, "mod unknown");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, self->rd, 0, 0));
	EXPECT_BOTH(-ENOENT, r, "del unknown");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(0, r, "add");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, self->rd, 0, 0));
	EXPECT_BOTH(0, r, "del");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, self->rd, 0, 0));
	EXPECT_BOTH(-ENOENT, r, "del twice");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(-ENOENT, r, "mod after del");
}

TEST_F(ctl, unpollable_target_is_eperm)
{
	int files[3], r[2];
	const char *names[] = { "memfd (regular file)", "directory", "/dev/null" };

	files[0] = memfd_create("xpoll-test", MFD_CLOEXEC);
	files[1] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	files[2] = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3; i++) {
		ASSERT_LE(0, files[i]) TH_LOG("%s", names[i]);
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, files[i], EPOLLIN, 1));
		EXPECT_BOTH(-EPERM, r, names[i]);
		/* EPERM comes before the op and lookup checks. */
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, files[i], 0, 0));
		EXPECT_BOTH(-EPERM, r, names[i]);
		ON_BOTH(r, pl_ctl(be, p, 77, files[i], EPOLLIN, 1));
		EXPECT_BOTH(-EPERM, r, names[i]);
		close(files[i]);
	}
}

TEST_F(ctl, add_self_is_einval)
{
	int r[2];

	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, p, EPOLLIN, 1));
	EXPECT_BOTH(-EINVAL, r, "add self");
	/* A dup of itself is the same file. */
	ON_BOTH(r, ({ int d = dup(p);
		      int x = pl_ctl(be, p, EPOLL_CTL_ADD, d, EPOLLIN, 1);
		      close(d); x; }));
	EXPECT_BOTH(-EINVAL, r, "add dup of self");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, p, EPOLLIN, 1));
	EXPECT_BOTH(-EINVAL, r, "mod self");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, p, 0, 0));
	EXPECT_BOTH(-EINVAL, r, "del self");
}

TEST_F(ctl, bad_op_is_einval)
{
	int ops[] = { 0, 4, 5, 0x100, 0x7fffffff, -1 }, r[2];

	for (unsigned int i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		ON_BOTH(r, pl_ctl(be, p, ops[i], self->rd, EPOLLIN, 1));
		EXPECT_BOTH(-EINVAL, r, "bad op");
	}
	/* also when an item exists */
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(0, r, "add");
	ON_BOTH(r, pl_ctl(be, p, 4, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(-EINVAL, r, "bad op, item present");
}

TEST_F(ctl, bad_fd_is_ebadf)
{
	int closed = dup(self->rd), r[2];

	close(closed);
	int fds[] = { -1, -1000, 1 << 20, closed };

	for (unsigned int i = 0; i < 4; i++) {
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, fds[i], EPOLLIN, 1));
		EXPECT_BOTH(-EBADF, r, "add bad fd");
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, fds[i], 0, 0));
		EXPECT_BOTH(-EBADF, r, "del bad fd");
		/* EBADF before EINVAL for a bad op */
		ON_BOTH(r, pl_ctl(be, p, 99, fds[i], EPOLLIN, 1));
		EXPECT_BOTH(-EBADF, r, "bad op and bad fd");
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, fds[i],
				  EPOLLIN | EPOLLEXCLUSIVE, 1));
		EXPECT_BOTH(-EBADF, r, "mod exclusive, bad fd");
	}
}

TEST_F(ctl, bad_instance_fd)
{
	/* The instance fd itself: epoll_ctl says EBADF for a closed fd and
	 * EINVAL for a file that is not an epoll; an ioctl on a closed fd is
	 * EBADF, on another file ENOTTY (not an xpoll). */
	struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .fd = self->rd,
			       .events = EPOLLIN };
	struct epoll_event e = { .events = EPOLLIN };

	EXPECT_EQ(-1, epoll_ctl(self->rd, EPOLL_CTL_ADD, self->efd, &e));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->efd, XPOLL_IOC_CTL, &c));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->p[BE_EPOLL], XPOLL_IOC_CTL, &c));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(ctl, exclusive_with_mod_is_einval)
{
	int r[2];

	/* before ENOENT: no item yet */
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, self->rd,
			  EPOLLIN | EPOLLEXCLUSIVE, 1));
	EXPECT_BOTH(-EINVAL, r, "mod exclusive, no item");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(0, r, "add");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, self->rd,
			  EPOLLIN | EPOLLEXCLUSIVE, 1));
	EXPECT_BOTH(-EINVAL, r, "mod exclusive");
}

TEST_F(ctl, mod_of_exclusive_item_is_einval)
{
	int r[2];

	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd,
			  EPOLLIN | EPOLLEXCLUSIVE, 1));
	EXPECT_BOTH(0, r, "add exclusive");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, self->rd, EPOLLIN, 2));
	EXPECT_BOTH(-EINVAL, r, "mod of exclusive item");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, self->rd, 0, 0));
	EXPECT_BOTH(0, r, "del of exclusive item");
}

TEST_F(ctl, exclusive_allowed_bits)
{
	uint32_t bad[] = { EPOLLONESHOT, EPOLLRDHUP, EPOLLPRI, EPOLLRDNORM,
			   EPOLLRDBAND, EPOLLWRNORM, EPOLLWRBAND, EPOLLMSG,
			   1u << 20 };
	uint32_t good[] = { EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLOUT | EPOLLET,
			    EPOLLERR | EPOLLHUP, EPOLLIN | EPOLLWAKEUP, 0 };
	int r[2];

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd,
				  EPOLLIN | EPOLLEXCLUSIVE | bad[i], 1));
		EXPECT_BOTH(-EINVAL, r, "exclusive with a bit not allowed");
	}
	for (unsigned int i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd,
				  EPOLLEXCLUSIVE | good[i], 1));
		EXPECT_BOTH(0, r, "exclusive with allowed bits");
		ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, self->rd, 0, 0));
		EXPECT_BOTH(0, r, "del");
	}
}

TEST_F(ctl, exclusive_on_poll_instance_target_is_einval)
{
	int r[2];

	/* an instance of the same kind */
	ON_BOTH(r, ({ int in = pl_create(be, 1);
		      int x = pl_ctl(be, p, EPOLL_CTL_ADD, in,
				     EPOLLIN | EPOLLEXCLUSIVE, 1);
		      close(in); x; }));
	EXPECT_BOTH(-EINVAL, r, "exclusive on a nested instance");
	/* and epoll inside xpoll (not the other way: epoll cannot know) */
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep);
	EXPECT_EQ(-EINVAL, pl_ctl(BE_XPOLL, self->p[BE_XPOLL], EPOLL_CTL_ADD,
				  ep, EPOLLIN | EPOLLEXCLUSIVE, 1));
	/* without EXCLUSIVE both nest fine */
	ON_BOTH(r, ({ int in = pl_create(be, 1);
		      int x = pl_ctl(be, p, EPOLL_CTL_ADD, in, EPOLLIN, 1);
		      close(in); x; }));
	EXPECT_BOTH(0, r, "nested instance");
	close(ep);
}

TEST_F(ctl, dup_is_a_second_item)
{
	struct epoll_event ev[8];
	int d = dup(self->efd), r[2];

	ASSERT_LE(0, d);
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->efd, EPOLLIN, 1));
	EXPECT_BOTH(0, r, "add fd");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, d, EPOLLIN, 2));
	EXPECT_BOTH(0, r, "add dup (another key)");
	for (int be = 0; be < 2; be++) {
		int n = pl_poll0(be, self->p[be], ev);

		ASSERT_EQ(2, n) TH_LOG("%s", be_name[be]);
		ev_sort(ev, n);
		EXPECT_EQ(1, ev[0].data.u64);
		EXPECT_EQ(2, ev[1].data.u64);
	}
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, d, 0, 0));
	EXPECT_BOTH(0, r, "del dup");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_MOD, self->efd, EPOLLIN, 3));
	EXPECT_BOTH(0, r, "original still there");
	close(d);
}

TEST_F(ctl, del_ignores_events_and_data)
{
	int r[2];

	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_ADD, self->rd, EPOLLIN, 1));
	EXPECT_BOTH(0, r, "add");
	ON_BOTH(r, pl_ctl(be, p, EPOLL_CTL_DEL, self->rd,
			  EPOLLEXCLUSIVE | EPOLLONESHOT | 0xfff, ~0ULL));
	EXPECT_BOTH(0, r, "del with garbage events");
}

TEST_F(ctl, xpoll_reserved_fields_must_be_zero)
{
	/*
	 * flags with no defined bit (bit 0 is XPOLL_CTL_USER), reserved,
	 * and key, which only a user event (XPOLL_CTL_USER) may set
	 */
	for (int op = XPOLL_CTL_ADD; op <= XPOLL_CTL_MOD; op++) {
		for (int f = 0; f < 5; f++) {
			struct xpoll_ctl c = { .op = op, .fd = self->rd,
					       .events = EPOLLIN, .data = 5 };

			if (f == 0)
				c.flags = 2;
			else if (f == 1)	/* a user event but for this bit */
				c.flags = 0x80000000u | XPOLL_CTL_USER,
				c.fd = -1, c.key = 7;
			else if (f == 2)
				c.reserved = 1;
			else if (f == 3)
				c.key = 1;
			else
				c.key = 1ULL << 63;
			errno = 0;
			EXPECT_EQ(-1, ioctl(self->p[BE_XPOLL], XPOLL_IOC_CTL, &c));
			EXPECT_EQ(EINVAL, errno) TH_LOG("op %d field %d", op, f);
		}
		/* a valid call of the same op now, for the next loop */
		/* the same call with zeroes: ADD works, DEL/MOD find nothing
		 * (the ADD of the first round was deleted right after) */
		EXPECT_EQ(op == XPOLL_CTL_ADD ? 0 : -1,
			  xp_ctl_raw(self->p[BE_XPOLL], op, self->rd, EPOLLIN, 5));
		if (op == XPOLL_CTL_ADD) {
			ASSERT_EQ(0, xp_ctl_raw(self->p[BE_XPOLL], XPOLL_CTL_DEL,
						self->rd, 0, 0));
		}
	}
}

/* A ctl whose struct faults: EFAULT, and nothing changes. */
TEST_F(ctl, ctl_struct_fault_is_efault)
{
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct epoll_event ev[2];

	ASSERT_NE(MAP_FAILED, none);
	EXPECT_EQ(-1, epoll_ctl(self->p[BE_EPOLL], EPOLL_CTL_ADD, self->efd, none));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->p[BE_XPOLL], XPOLL_IOC_CTL, none));
	EXPECT_EQ(EFAULT, errno);
	for (int be = 0; be < 2; be++) {
		EXPECT_EQ(0, pl_poll0(be, self->p[be], ev));
	}
	munmap(none, 4096);
}

/*
 * xpoll reads its argument structs in whole words when they are 8-byte
 * aligned and with the generic copy otherwise: both must take any
 * alignment, and a struct whose tail lies in an unmapped page must fail
 * with EFAULT and change nothing, on either path.
 */
TEST_F(ctl, xpoll_args_any_alignment_and_partial_fault)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct epoll_event ev[2];
	char *buf, *at;

	buf = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, mprotect(buf + pg, pg, PROT_NONE));
	for (int off = 0; off < 8; off += 3) {
		struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .fd = self->efd,
				       .events = EPOLLIN, .data = 40 + off };
		struct xpoll_wait w = { .events = (uintptr_t)ev,
					.maxevents = 2 };

		at = buf + 64 + off;
		memcpy(at, &c, sizeof(c));
		EXPECT_EQ(0, ioctl(self->p[BE_XPOLL], XPOLL_IOC_CTL, at))
			TH_LOG("ADD at offset %d: %s", off, strerror(errno));
		memcpy(at, &w, sizeof(w));
		EXPECT_EQ(1, ioctl(self->p[BE_XPOLL], XPOLL_IOC_WAIT, at))
			TH_LOG("WAIT at offset %d: %s", off, strerror(errno));
		EXPECT_EQ(40 + off, ev[0].data.u64);
		c.op = XPOLL_CTL_DEL;
		memcpy(at, &c, sizeof(c));
		EXPECT_EQ(0, ioctl(self->p[BE_XPOLL], XPOLL_IOC_CTL, at));

		/* The last 8 - off bytes of each struct are unmapped. */
		c.op = XPOLL_CTL_ADD;
		at = buf + pg - sizeof(c) + 8 - off;
		memcpy(at, &c, sizeof(c) - 8 + off);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->p[BE_XPOLL], XPOLL_IOC_CTL, at));
		EXPECT_EQ(EFAULT, errno) TH_LOG("ctl, offset %d", off);
		at = buf + pg - sizeof(w) + 8 - off;
		memcpy(at, &w, sizeof(w) - 8 + off);
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->p[BE_XPOLL], XPOLL_IOC_WAIT, at));
		EXPECT_EQ(EFAULT, errno) TH_LOG("wait, offset %d", off);
	}
	/* The faulting ADDs added nothing. */
	EXPECT_EQ(0, pl_poll0(BE_XPOLL, self->p[BE_XPOLL], ev));
	munmap(buf, 2 * pg);
}

/*
 * Random ctl calls, the same on both: every result must agree.  The
 * targets: pipe ends, eventfds, a dup, a regular file, the instance
 * itself, closed and negative numbers.
 */
TEST_F(ctl, random_ctl_matches_epoll)
{
	static const uint32_t bits[] = {
		EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLERR, EPOLLHUP, EPOLLRDHUP,
		EPOLLRDNORM, EPOLLWRNORM, EPOLLET, EPOLLONESHOT,
		EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLMSG, 1u << 20,
	};
	int t[8], nt = 0, r[2], dn = dup(self->efd), mf;
	unsigned int seed = 12345;

	mf = memfd_create("x", MFD_CLOEXEC);
	t[nt++] = self->rd;
	t[nt++] = self->wr;
	t[nt++] = self->efd;
	t[nt++] = dn;
	t[nt++] = mf;
	t[nt++] = -1;
	t[nt++] = 1000;
	t[nt++] = -2; /* stands for the instance itself */
	for (int i = 0; i < 20000; i++) {
		int op = 1 + rand_r(&seed) % 3, fd = t[rand_r(&seed) % nt];
		uint32_t ev = 0;
		int nb = rand_r(&seed) % 5;

		if (rand_r(&seed) % 50 == 0)
			op = rand_r(&seed) % 6;
		for (int b = 0; b < nb; b++)
			ev |= bits[rand_r(&seed) % (sizeof(bits) / sizeof(bits[0]))];
		ON_BOTH(r, pl_ctl(be, p, op, fd == -2 ? p : fd, ev, i));
		if (r[0] != r[1]) {
			EXPECT_EQ(r[0], r[1]) TH_LOG("step %d op %d fd %d events %#x: "
				"epoll %d xpoll %d", i, op, fd, ev, r[0], r[1]);
			break;
		}
	}
	close(dn);
	close(mf);
}

XP_NO_HOOK
XP_MAIN
