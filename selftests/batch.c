// SPDX-License-Identifier: GPL-2.0
/*
 * XPOLL_IOC_CTL_BATCH (feature bit 8): many changes in one call, a result
 * per change.  Each change's result is checked against what epoll_ctl(2)
 * gives for the same change, made on an epoll instance in the same
 * order; then the header rules, the stopping points of
 * uapi/linux/xpoll.h (faults at either array), and order within a batch.
 */
#include "xp_test.h"
#include <sys/mman.h>
#include <sys/resource.h>

FIXTURE(batch) {
	int ep, xp;
};

FIXTURE_SETUP(batch)
{
	struct xpoll_version v = { 0 };

	if (!xp_present() || xp_emulate())
		XP_SKIP("%s: %s missing (module not loaded)", _metadata->name,
			XPOLL_DEVICE);
	self->ep = epoll_create1(EPOLL_CLOEXEC);
	self->xp = xp_open(O_CLOEXEC);
	ASSERT_LE(0, self->ep);
	ASSERT_LE(0, self->xp);
	ASSERT_EQ(0, ioctl(self->xp, XPOLL_IOC_VERSION, &v));
	ASSERT_TRUE(v.features & XPOLL_FEAT_CTL_BATCH);
}

FIXTURE_TEARDOWN(batch)
{
	close(self->ep);
	close(self->xp);
}

static int xp_batch(int xp, struct xpoll_ctl *c, int32_t *res, uint32_t nr)
{
	struct xpoll_ctl_batch b = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = nr,
	};

	return ioctl(xp, XPOLL_IOC_CTL_BATCH, &b);
}

static struct xpoll_ctl mk(int op, int fd, uint32_t events, uint64_t data)
{
	struct xpoll_ctl c = {
		.op = (uint32_t)op, .fd = fd, .events = events, .data = data,
	};

	return c;
}

/* Items an instance holds, seen through a wait: the number of events. */
static int ready_count(int p, struct epoll_event *ev, int max)
{
	return pl_wait(BE_XPOLL, p, ev, max, 0, NULL);
}

TEST_F(batch, results_are_epoll_ctl_errnos_in_order)
{
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	int efd2 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int reg = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	int closed = eventfd(0, EFD_CLOEXEC);
	struct xpoll_ctl c[14];
	int32_t res[14];
	int n = 0;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, efd2);
	ASSERT_LE(0, reg);
	ASSERT_LE(0, closed);
	close(closed);
	c[n++] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 1);		/* 0 */
	c[n++] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 2);		/* EEXIST */
	c[n++] = mk(EPOLL_CTL_MOD, efd2, EPOLLIN, 3);		/* ENOENT */
	c[n++] = mk(EPOLL_CTL_DEL, efd2, 0, 0);			/* ENOENT */
	c[n++] = mk(EPOLL_CTL_ADD, closed, EPOLLIN, 4);	/* EBADF */
	c[n++] = mk(EPOLL_CTL_ADD, -1, EPOLLIN, 5);		/* EBADF */
	c[n++] = mk(EPOLL_CTL_ADD, reg, EPOLLIN, 6);		/* EPERM */
	c[n++] = mk(7, efd2, EPOLLIN, 7);			/* EINVAL: op */
	c[n++] = mk(EPOLL_CTL_ADD, efd2, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 8);
	c[n++] = mk(EPOLL_CTL_ADD, efd2, EPOLLIN | EPOLLEXCLUSIVE, 9);	/* 0 */
	c[n++] = mk(EPOLL_CTL_MOD, efd2, EPOLLIN, 10);		/* EINVAL: excl */
	c[n++] = mk(EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLOUT, 11);	/* 0 */
	c[n++] = mk(EPOLL_CTL_DEL, efd2, 0, 0);			/* 0 */
	c[n++] = mk(EPOLL_CTL_ADD, efd2, EPOLLIN, 13);		/* 0 */

	memset(res, 0x55, sizeof(res));
	ASSERT_EQ(n, xp_batch(self->xp, c, res, n));
	for (int i = 0; i < n; i++) {
		struct epoll_event e = { .events = c[i].events, .data.u64 = c[i].data };
		int want = epoll_ctl(self->ep, (int)c[i].op, c[i].fd, &e) ? -errno : 0;

		EXPECT_EQ(want, res[i]) TH_LOG("change %d: epoll %s, xpoll %s", i,
					       strerror(-want), strerror(-res[i]));
	}
	/* Both sides now hold efd (MODed, IN|OUT, data 11) and efd2 (13). */
	{
		struct epoll_event ev[4];
		int r = ready_count(self->xp, ev, 4);

		ASSERT_EQ(1, r);
		EXPECT_EQ(11, ev[0].data.u64);
		EXPECT_EQ(EPOLLIN | EPOLLOUT, ev[0].events);
		EXPECT_EQ(2, fdinfo_items(self->xp));
	}
	close(efd);
	close(efd2);
	close(reg);
}

/*
 * A change with a bad reserved field fails alone, as XPOLL_IOC_CTL would:
 * reserved, an undefined flags bit, a key without XPOLL_CTL_USER, and the
 * user-event ops TRIGGER and CLEAR without it.
 */
TEST_F(batch, reserved_fields_fail_one_change)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct xpoll_ctl c[7];
	int32_t res[7];

	c[0] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
	c[0].reserved = 1;
	c[1] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
	c[1].flags = 2;
	c[2] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
	c[2].flags = 0x80000000u;
	c[3] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
	c[3].key = 1;
	c[4] = mk(XPOLL_CTL_TRIGGER, efd, EPOLLIN, 0);
	c[5] = mk(XPOLL_CTL_CLEAR, efd, EPOLLIN, 0);
	c[6] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
	ASSERT_EQ(7, xp_batch(self->xp, c, res, 7));
	for (int i = 0; i < 6; i++) {
		EXPECT_EQ(-EINVAL, res[i]) TH_LOG("change %d", i);
	}
	EXPECT_EQ(0, res[6]);
	for (int i = 0; i < 6; i++) {
		EXPECT_EQ(-1, ioctl(self->xp, XPOLL_IOC_CTL, &c[i]));
		EXPECT_EQ(EINVAL, errno) TH_LOG("change %d alone", i);
	}
	EXPECT_EQ(1, fdinfo_items(self->xp));
	close(efd);
}

TEST_F(batch, bad_header_applies_nothing)
{
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	struct xpoll_ctl c = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
	struct xpoll_ctl_batch b;
	struct epoll_event ev;
	int32_t res = 77;
	const struct {
		const char *what;
		uint32_t nr, flags;
		uint64_t rsv;
	} bad[] = {
		{ "nr 0", 0, 0, 0 },
		{ "nr above XPOLL_CTL_BATCH_MAX", XPOLL_CTL_BATCH_MAX + 1, 0, 0 },
		{ "nr huge", UINT32_MAX, 0, 0 },
		{ "flags", 1, 1, 0 },
		{ "flags high bit", 1, 0x80000000u, 0 },
		{ "reserved", 1, 0, 1 },
	};

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&b, 0, sizeof(b));
		b.ctls = (uintptr_t)&c;
		b.results = (uintptr_t)&res;
		b.nr = bad[i].nr;
		b.flags = bad[i].flags;
		b.reserved[i & 1] = bad[i].rsv;
		EXPECT_EQ(-1, ioctl(self->xp, XPOLL_IOC_CTL_BATCH, &b)) TH_LOG("%s", bad[i].what);
		EXPECT_EQ(EINVAL, errno) TH_LOG("%s", bad[i].what);
		EXPECT_EQ(77, res) TH_LOG("%s: a result was stored", bad[i].what);
	}
	EXPECT_EQ(-1, ioctl(self->xp, XPOLL_IOC_CTL_BATCH, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, ready_count(self->xp, &ev, 1));
	EXPECT_EQ(0, fdinfo_items(self->xp));
	close(efd);
}

/*
 * EFAULT with nothing applied: ctls or results unreadable/unwritable at
 * index 0, or outside user space.
 */
TEST_F(batch, efault_at_the_start_applies_nothing)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *none = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct xpoll_ctl c = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 0);
	int32_t res;

	ASSERT_NE(MAP_FAILED, none);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-1, xp_batch(self->xp, (struct xpoll_ctl *)none, &res, 1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, xp_batch(self->xp, &c, (int32_t *)none, 1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, xp_batch(self->xp, &c, (int32_t *)ro, 1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, xp_batch(self->xp, &c, NULL, 1));
	EXPECT_EQ(EFAULT, errno);
	/* A kernel address: refused by access_ok, nothing touched. */
	EXPECT_EQ(-1, xp_batch(self->xp, &c, (int32_t *)(uintptr_t)-4096, 1));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, fdinfo_items(self->xp));
	/* And the same change, well formed, goes in. */
	EXPECT_EQ(1, xp_batch(self->xp, &c, &res, 1));
	EXPECT_EQ(0, res);
	EXPECT_EQ(1, fdinfo_items(self->xp));
	munmap(none, pg);
	munmap(ro, pg);
	close(efd);
}

/*
 * A fault part-way stops the batch there: reading ctls[i] stops before
 * change i; storing results[i] stops after it (uapi/linux/xpoll.h).
 */
/* Two pages, the second one inaccessible: arrays that end at a hole. */
static char *page_then_hole(long pg)
{
	char *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (two == MAP_FAILED)
		return NULL;
	if (mprotect(two + pg, pg, PROT_NONE)) {
		munmap(two, 2 * pg);
		return NULL;
	}
	return two;
}

TEST_F(batch, fault_midway_stops_there)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *two = page_then_hole(pg);
	int efd[6];
	struct xpoll_ctl *c;
	int32_t res[6], *r;

	ASSERT_NE(NULL, two);
	for (int i = 0; i < 6; i++) {
		ASSERT_LE(0, efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	}

	/* Three changes fit before the hole: the 4th cannot be read. */
	c = (struct xpoll_ctl *)(two + pg - 3 * sizeof(*c));
	for (int i = 0; i < 3; i++)
		c[i] = mk(EPOLL_CTL_ADD, efd[i], EPOLLIN, i);
	EXPECT_EQ(3, xp_batch(self->xp, c, res, 6));
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(3, fdinfo_items(self->xp));

	/* Two results fit: change 2's result faults after change 2 applied. */
	struct xpoll_ctl cc[3];

	for (int i = 0; i < 3; i++)
		cc[i] = mk(EPOLL_CTL_ADD, efd[3 + i], EPOLLIN, 3 + i);
	r = (int32_t *)(two + pg - 2 * sizeof(*r));
	EXPECT_EQ(2, xp_batch(self->xp, cc, r, 3));
	EXPECT_EQ(0, r[0]);
	EXPECT_EQ(0, r[1]);
	EXPECT_EQ(6, fdinfo_items(self->xp));

	munmap(two, 2 * pg);
	for (int i = 0; i < 6; i++)
		close(efd[i]);
}

/*
 * xpoll reads changes 8 at a time: a fault in a later chunk, on an aligned
 * or a misaligned array, still applies exactly the changes before it.
 */
TEST_F(batch, fault_in_a_later_chunk_stops_there)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *two = page_then_hole(pg);
	int efd[20];
	struct xpoll_ctl *c;
	int32_t res[20];

	ASSERT_NE(NULL, two);
	for (int i = 0; i < 20; i++) {
		ASSERT_LE(0, efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	}
	for (int skew = 0; skew <= 4; skew += 4) {
		/* Eleven whole changes before the hole, the 12th cut by it. */
		c = (struct xpoll_ctl *)(two + pg - 11 * sizeof(*c) - skew);
		for (int i = 0; i < 11; i++) {
			struct xpoll_ctl one = mk(EPOLL_CTL_ADD, efd[i],
						  EPOLLIN, i);

			memcpy(&c[i], &one, sizeof(one));	/* maybe misaligned */
		}
		if (skew)
			memset(&c[11], 0, skew);
		memset(res, 0x55, sizeof(res));
		EXPECT_EQ(11, xp_batch(self->xp, c, res, 20))
			TH_LOG("skew %d", skew);
		EXPECT_EQ(0, res[0]);
		EXPECT_EQ(0, res[10]);
		EXPECT_EQ(0x55555555, res[11]);
		EXPECT_EQ(11, fdinfo_items(self->xp));
		for (int i = 0; i < 11; i++)
			EXPECT_EQ(0, xp_ctl_raw(self->xp, EPOLL_CTL_DEL, efd[i],
						0, 0));
	}
	munmap(two, 2 * pg);
	for (int i = 0; i < 20; i++)
		close(efd[i]);
}

/* State letter of process @pid (/proc/<pid>/stat), 0 if unreadable. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p ? p[2] : 0;
}

/*
 * A batch stops between two changes when its task is killed, instead of
 * applying the rest first (the header's "a fatal signal ... stops the batch
 * at i").  To kill it mid-batch at a known point: a wait whose copy-out
 * faults on a userfaultfd page holds the instance's mutex until the test
 * resolves the fault; a child's batch, started then, blocks on that mutex
 * in its first change and is killed there.  Once the fault is resolved the
 * first change completes (the mutex wait is not killable) and the batch
 * must stop before the second.
 */
TEST_F(batch, fatal_signal_stops_between_changes)
{
	enum { NR = 16 };
	struct stalled_wait sw = { 0 };
	struct xpoll_ctl c[NR];
	struct uffd_page u;
	int e, efd[NR], status, stable = 0;
	int32_t res[NR];
	uint64_t one = 1;
	pthread_t t;
	pid_t pid;

	e = uffd_page_open(&u);
	if (e == -ENOSYS || e == -EPERM)
		SKIP(return, "userfaultfd: %s", strerror(-e));
	ASSERT_EQ(0, e);

	ASSERT_LE(0, e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	ASSERT_EQ(8, write(e, &one, 8));
	ASSERT_EQ(0, xp_ctl_raw(self->xp, EPOLL_CTL_ADD, e, EPOLLIN, 99));
	for (int i = 0; i < NR; i++) {
		ASSERT_LE(0, efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
		c[i] = mk(EPOLL_CTL_ADD, efd[i], EPOLLIN, i);
	}

	/* The wait stalls storing its event, holding the instance's mutex. */
	sw.be = BE_XPOLL;
	sw.p = self->xp;
	sw.ev = (struct epoll_event *)u.page;
	ASSERT_EQ(0, pthread_create(&t, NULL, stalled_wait_fn, &sw));
	ASSERT_TRUE(uffd_page_faulted(&u, 10000));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(xp_batch(self->xp, c, res, NR) == NR ? 0 : 1);

	/* Asleep (D: the mutex) and still so a moment later: blocked there. */
	for (int i = 0; i < 10000 && stable < 2; i++) {
		stable = proc_state(pid) == 'D' ? stable + 1 : 0;
		msleep(stable ? 20 : 1);
	}
	EXPECT_EQ(2, stable) TH_LOG("the batch never blocked on the mutex");
	EXPECT_EQ(0, kill(pid, SIGKILL));

	ASSERT_EQ(0, uffd_page_release(&u));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1, sw.ret);
	EXPECT_EQ(99, sw.ev[0].data.u64);

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("child status %#x", status);
	/* The ready eventfd and the first change, none of the 15 after it. */
	EXPECT_EQ(2, fdinfo_items(self->xp));
	EXPECT_EQ(0, xp_ctl_raw(self->xp, EPOLL_CTL_DEL, efd[0], 0, 0));
	EXPECT_EQ(-1, xp_ctl_raw(self->xp, EPOLL_CTL_DEL, efd[1], 0, 0));
	EXPECT_EQ(ENOENT, errno);

	for (int i = 0; i < NR; i++)
		close(efd[i]);
	close(e);
	uffd_page_close(&u);
}

/* Changes apply in array order, each seeing the ones before it. */
TEST_F(batch, later_changes_see_earlier_ones)
{
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev[2];
	struct xpoll_ctl c[5];
	int32_t res[5];

	c[0] = mk(EPOLL_CTL_ADD, efd, EPOLLIN, 1);
	c[1] = mk(EPOLL_CTL_DEL, efd, 0, 0);
	c[2] = mk(EPOLL_CTL_ADD, efd, EPOLLOUT, 2);
	c[3] = mk(EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLET, 3);
	c[4] = mk(EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLONESHOT, 4);
	ASSERT_EQ(5, xp_batch(self->xp, c, res, 5));
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(0, res[i]) TH_LOG("change %d: %s", i, strerror(-res[i]));
	}
	ASSERT_EQ(1, ready_count(self->xp, ev, 2));
	EXPECT_EQ(4, ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, ev[0].events);
	/* ONESHOT from the last change: disarmed now. */
	EXPECT_EQ(0, ready_count(self->xp, ev, 2));
	close(efd);
}

/* The largest batch: XPOLL_CTL_BATCH_MAX ADDs, then as many DELs. */
TEST_F(batch, largest_batch_add_then_del)
{
	static struct xpoll_ctl c[XPOLL_CTL_BATCH_MAX];
	static int32_t res[XPOLL_CTL_BATCH_MAX];
	static int fds[XPOLL_CTL_BATCH_MAX];
	static struct epoll_event ev[XPOLL_CTL_BATCH_MAX];
	struct rlimit rl = { XPOLL_CTL_BATCH_MAX + 64, XPOLL_CTL_BATCH_MAX + 64 };
	int n = XPOLL_CTL_BATCH_MAX;

	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	for (int i = 0; i < n; i++) {
		ASSERT_LE(0, fds[i] = eventfd(i & 1, EFD_NONBLOCK | EFD_CLOEXEC));
		c[i] = mk(EPOLL_CTL_ADD, fds[i], EPOLLIN, i);
	}
	memset(res, 0x55, sizeof(res));
	ASSERT_EQ(n, xp_batch(self->xp, c, res, n));
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(0, res[i]) TH_LOG("change %d: %s", i, strerror(-res[i]));
	}
	EXPECT_EQ(n, fdinfo_items(self->xp));
	/* The odd ones were readable. */
	int r = ready_count(self->xp, ev, n);

	EXPECT_EQ(n / 2, r);
	for (int i = 0; i < r; i++) {
		EXPECT_EQ(1, ev[i].data.u64 & 1);
	}
	for (int i = 0; i < n; i++)
		c[i] = mk(EPOLL_CTL_DEL, fds[i], 0, 0);
	ASSERT_EQ(n, xp_batch(self->xp, c, res, n));
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(0, res[i]);
	}
	EXPECT_EQ(0, fdinfo_items(self->xp));
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* An instance in a batch: the loop check still applies to each change. */
TEST_F(batch, nesting_rules_apply_per_change)
{
	int inner = xp_open(O_CLOEXEC);
	struct xpoll_ctl c[3];
	int32_t res[3];

	ASSERT_LE(0, inner);
	c[0] = mk(EPOLL_CTL_ADD, inner, EPOLLIN, 0);
	c[1] = mk(EPOLL_CTL_ADD, self->xp, EPOLLIN, 0);	/* self: EINVAL */
	c[2] = mk(EPOLL_CTL_ADD, inner, EPOLLIN, 0);	/* EEXIST */
	ASSERT_EQ(3, xp_batch(self->xp, c, res, 3));
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(-EINVAL, res[1]);
	EXPECT_EQ(-EEXIST, res[2]);
	/* inner watching the outer instance would close a loop. */
	c[0] = mk(EPOLL_CTL_ADD, self->xp, EPOLLIN, 0);
	ASSERT_EQ(1, xp_batch(inner, c, res, 1));
	EXPECT_EQ(-ELOOP, res[0]);
	close(inner);
}

XP_NO_HOOK
XP_MAIN
