// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifecycle of xpoll (issue 5, item 5).
 *
 * rmmod must be refused while any instance or item exists, wherever it is
 * held: an open fd, a thread blocked in a wait, an instance held only as
 * the target of another instance. And it must be allowed as soon as
 * nothing exists any more, including the case epoll users expect: an
 * instance whose only fd is closed while it sits in an epoll set is freed
 * (epoll holds no reference, it drops the item at file release), so the
 * module must unload and the epoll set keep working.
 *
 * Then XPOLL_CYCLES (default 100) load/use/unload cycles, with a kmemleak
 * scan before and after: no new leak.
 *
 * Needs root and $XPOLL_KO (the xpoll.ko to reload). Every test leaves the
 * module loaded, whatever happens, so later suites still find /dev/xpoll.
 */
#include "rel.h"
#include <pthread.h>
#include <time.h>

#define MODNAME "xpoll"
#define KMEMLEAK "/sys/kernel/debug/kmemleak"

static int mod_loaded(void)
{
	return access("/sys/module/" MODNAME "/refcnt", F_OK) == 0;
}

static long mod_refcnt(void)
{
	return read_long("/sys/module/" MODNAME "/refcnt");
}

static int mod_unload(void)
{
	return syscall(SYS_delete_module, MODNAME, O_NONBLOCK) ? -errno : 0;
}

static int mod_load(void)
{
	const char *ko = getenv("XPOLL_KO");
	int fd, r;

	if (!ko)
		return -ENOENT;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	if (!r) {
		/* udev-less guest: devtmpfs creates the node; wait for it */
		for (int i = 0; i < 100 && access(XPOLL_DEVICE, F_OK); i++)
			usleep(10000);
	}
	return r;
}

/* rmmod refused: delete_module says EWOULDBLOCK (EAGAIN) for a used module */
static int refused(int r)
{
	return r == -EAGAIN || r == -EBUSY;
}

/* Unload, retrying up to ms milliseconds while it is refused. */
static int mod_unload_within(int ms)
{
	int r;

	for (int t = 0;; t += 20) {
		r = mod_unload();
		if (!refused(r) || t >= ms)
			return r;
		usleep(20000);
	}
}

static void ensure_loaded(void)
{
	if (!mod_loaded())
		mod_load();
}

FIXTURE(mod) {
	int dummy;
};

FIXTURE_SETUP(mod)
{
	if (geteuid())
		SKIP(return, "needs root");
	if (!getenv("XPOLL_KO"))
		SKIP(return, "XPOLL_KO is not set: cannot reload the module");
	ensure_loaded();
	ASSERT_TRUE(mod_loaded());
	/* nothing of an earlier test may still hold the module */
	for (int i = 0; i < 50 && mod_refcnt() > 0; i++)
		usleep(100000);
	ASSERT_EQ(0, mod_refcnt()) TH_LOG("something holds xpoll before the test");
}

FIXTURE_TEARDOWN(mod)
{
	ensure_loaded();
}

TEST_F(mod, refused_while_an_instance_is_open)
{
	int x = xp_open(), e = new_efd(1);

	ASSERT_LE(0, x);
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	EXPECT_TRUE(refused(mod_unload()));
	ASSERT_TRUE(mod_loaded());
	/* still fully working after the refusal */
	struct epoll_event ev;

	EXPECT_EQ(1, xp_wait(x, &ev, 1, 0));
	close(x);
	close(e);
	EXPECT_EQ(0, mod_unload_within(3000));
}

TEST_F(mod, refused_while_an_instance_is_held_by_another)
{
	int outer = xp_open(), inner = xp_open(), e = new_efd(1);

	ASSERT_LE(0, outer);
	ASSERT_LE(0, inner);
	ASSERT_EQ(0, xp_ctl(inner, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, xp_ctl(outer, XPOLL_CTL_ADD, inner, EPOLLIN, 2));
	/* inner's fd closed: outer's item is what holds it (and outer's fd) */
	close(inner);
	close(e);
	EXPECT_TRUE(refused(mod_unload()));
	/* outer's fd closed: nothing is left; the module unloads promptly */
	close(outer);
	EXPECT_EQ(0, mod_unload_within(3000));
}

TEST_F(mod, refused_while_inner_held_then_outer_closed_first)
{
	int outer = xp_open(), inner = xp_open(), e = new_efd(1);

	ASSERT_LE(0, outer);
	ASSERT_EQ(0, xp_ctl(inner, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, xp_ctl(outer, XPOLL_CTL_ADD, inner, EPOLLIN, 2));
	close(outer);
	EXPECT_TRUE(refused(mod_unload()));	/* inner still open */
	close(inner);
	close(e);
	EXPECT_EQ(0, mod_unload_within(3000));
}

/*
 * An xpoll instance in an epoll set, its only fd closed. epoll holds no
 * reference: the file is released and epoll drops its item (as for any
 * file), so the instance is gone and the module is free to go. The epoll
 * set must not notice anything but the item's removal.
 */
TEST_F(mod, instance_only_in_an_epoll_set_is_freed)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), x = xp_open(), e = new_efd(1);
	struct epoll_event ev[2];

	ASSERT_LE(0, x);
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, ep_ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN, 0x55));
	ASSERT_EQ(1, epoll_wait(ep, ev, 2, 0));
	EXPECT_EQ(0x55, ev[0].data.u64);
	EXPECT_TRUE(refused(mod_unload()));	/* x's fd still open */
	close(x);
	EXPECT_EQ(0, fdinfo_items(ep)) TH_LOG("epoll still lists the closed instance");
	EXPECT_EQ(0, epoll_wait(ep, ev, 2, 0));
	EXPECT_EQ(0, mod_unload_within(3000))
		TH_LOG("instance only in an epoll set: module still held (refcnt %ld)",
		       mod_refcnt());
	EXPECT_EQ(0, epoll_wait(ep, ev, 2, 0));
	close(ep);
	close(e);
}

/* The same with epoll inside xpoll inside epoll, all fds but the outer closed. */
TEST_F(mod, epoll_in_xpoll_in_epoll)
{
	int ep_out = epoll_create1(0), ep_in = epoll_create1(0), x = xp_open();
	int e = new_efd(1);
	struct epoll_event ev[2];

	ASSERT_LE(0, x);
	ASSERT_EQ(0, ep_ctl(ep_in, EPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, ep_in, EPOLLIN, 2));
	ASSERT_EQ(0, ep_ctl(ep_out, EPOLL_CTL_ADD, x, EPOLLIN, 3));
	ASSERT_EQ(1, epoll_wait(ep_out, ev, 2, 0));
	close(ep_in);
	close(e);
	EXPECT_TRUE(refused(mod_unload()));
	close(x);
	EXPECT_EQ(0, mod_unload_within(3000));
	EXPECT_EQ(0, epoll_wait(ep_out, ev, 2, 0));
	close(ep_out);
}

static int blocked_x;

static void *blocked_waiter(void *arg)
{
	struct epoll_event ev;

	(void)arg;
	return (void *)(intptr_t)xp_wait(blocked_x, &ev, 1, 1500000000LL);
}

TEST_F(mod, refused_while_a_thread_waits_on_a_closed_fd)
{
	pthread_t t;
	void *ret;

	blocked_x = xp_open();
	ASSERT_LE(0, blocked_x);
	ASSERT_EQ(0, pthread_create(&t, NULL, blocked_waiter, NULL));
	usleep(300000);
	close(blocked_x);	/* the waiting thread still holds the file */
	EXPECT_TRUE(refused(mod_unload()));
	pthread_join(t, &ret);
	EXPECT_EQ(0, (intptr_t)ret);
	EXPECT_EQ(0, mod_unload_within(3000));
}

/*
 * Items whose targets were just closed (their close removed them), then
 * the instance closed and the module unloaded at once: no crash, no leak
 * (KASAN and kmemleak would say), no refusal for long.
 */
TEST_F(mod, unload_right_after_mass_close)
{
	int x = xp_open(), e[500], i;

	ASSERT_LE(0, x);
	for (i = 0; i < 500; i++) {
		e[i] = new_efd(i & 1);
		ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, e[i], EPOLLIN | (i & 2 ? EPOLLET : 0), i));
	}
	for (i = 0; i < 500; i++)
		close(e[i]);
	close(x);
	EXPECT_EQ(0, mod_unload_within(3000));
}

/* ---- load/use/unload cycles and kmemleak --------------------------------- */

static int kmemleak_reports(char *first, size_t len)
{
	static char buf[1 << 20];
	int n = 0;
	char *p = buf;

	if (write_text(KMEMLEAK, "scan"))
		return -1;
	if (read_text(KMEMLEAK, buf, sizeof(buf)))
		return -1;
	if (first) {
		size_t n = strnlen(buf, len - 1);

		memcpy(first, buf, n);
		first[n] = 0;
	}
	while ((p = strstr(p, "unreferenced object"))) {
		n++;
		p++;
	}
	return n;
}

static int use_once(void)
{
	int x = xp_open(), inner = xp_open(), e = new_efd(1), p[2], r;
	struct epoll_event ev[4];

	if (x < 0 || inner < 0 || pipe(p))
		return -1;
	r = xp_ctl(inner, XPOLL_CTL_ADD, e, EPOLLIN, 1);
	r |= xp_ctl(x, XPOLL_CTL_ADD, inner, EPOLLIN, 2);
	r |= xp_ctl(x, XPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 3);
	r |= xp_ctl(x, XPOLL_CTL_ADD, p[1], EPOLLOUT, 4);
	if (write(p[1], "x", 1) != 1)
		r = -1;
	if (xp_wait(x, ev, 4, 0) != 3)
		r = -1;
	close(p[0]);	/* its close removes its item */
	close(inner);
	close(x);
	close(p[1]);
	close(e);
	return r;
}

TEST_F_TIMEOUT(mod, load_use_unload_cycles_leak_nothing, 1200)
{
	const char *env = getenv("XPOLL_CYCLES");
	int cycles = env ? atoi(env) : 100, i, before, after;
	char *report = malloc(1 << 16);
	struct timespec t0, t1;

	before = kmemleak_reports(NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < cycles; i++) {
		if (!mod_loaded())
			ASSERT_EQ(0, mod_load()) TH_LOG("cycle %d: load failed", i);
		ASSERT_EQ(0, use_once()) TH_LOG("cycle %d: use failed", i);
		ASSERT_EQ(0, mod_unload_within(3000)) TH_LOG("cycle %d: unload failed", i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_EQ(0, mod_load());
	TH_LOG("%d load/use/unload cycles in %.1f s", cycles,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("# load_unload_cycles: %d\n", cycles);
	if (before < 0) {
		free(report);
		SKIP(return, "no kmemleak: leaks not checked");
	}
	/* kmemleak reports nothing younger than 5 s */
	sleep(6);
	after = kmemleak_reports(report, 1 << 16);
	EXPECT_EQ(before, after) TH_LOG("new kmemleak reports:\n%s", report);
	free(report);
}

TEST_HARNESS_MAIN
