// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 6: nesting.  An instance inside another instance (every
 * combination of epoll and xpoll, epoll-in-epoll as the reference), in
 * poll() and select(); cycles refused with ELOOP; the depth bound the
 * same as epoll's; mixed epoll/xpoll loops never recurse without bound.
 */
#include "xp_test.h"
#include <sys/select.h>

FIXTURE(nest) { int outer, inner, leaf; };
FIXTURE_VARIANT(nest) { int outer_be, inner_be; };
FIXTURE_VARIANT_ADD(nest, epoll_in_epoll) { BE_EPOLL, BE_EPOLL };
FIXTURE_VARIANT_ADD(nest, xpoll_in_epoll) { BE_EPOLL, BE_XPOLL };
FIXTURE_VARIANT_ADD(nest, epoll_in_xpoll) { BE_XPOLL, BE_EPOLL };
FIXTURE_VARIANT_ADD(nest, xpoll_in_xpoll) { BE_XPOLL, BE_XPOLL };

FIXTURE_SETUP(nest)
{
	XP_REQUIRE(variant->outer_be);
	XP_REQUIRE(variant->inner_be);
	self->outer = pl_create(variant->outer_be, 1);
	self->inner = pl_create(variant->inner_be, 1);
	self->leaf = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, self->outer);
	ASSERT_LE(0, self->inner);
	ASSERT_EQ(0, pl_ctl(variant->inner_be, self->inner, EPOLL_CTL_ADD,
			    self->leaf, EPOLLIN, 1));
}

FIXTURE_TEARDOWN(nest)
{
	close(self->outer);
	close(self->inner);
	close(self->leaf);
}

static void bump(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, 8) != 8)
		abort();
}

static void drain(int efd)
{
	uint64_t v;

	if (read(efd, &v, 8) != 8)
		abort();
}

TEST_F(nest, inner_readiness_reaches_outer)
{
	struct epoll_event ev[4];
	int ob = variant->outer_be;

	ASSERT_EQ(0, pl_ctl(ob, self->outer, EPOLL_CTL_ADD, self->inner, EPOLLIN, 9));
	ASSERT_EQ(0, pl_poll0(ob, self->outer, ev));
	bump(self->leaf);
	ASSERT_EQ(1, pl_poll0(ob, self->outer, ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	EXPECT_EQ(9, ev[0].data.u64);
	/* LT outer item, LT inner: still there */
	ASSERT_EQ(1, pl_poll0(ob, self->outer, ev));
	/* the inner's item is no longer ready: the outer sees that too */
	drain(self->leaf);
	ASSERT_EQ(0, pl_poll0(ob, self->outer, ev));
}

TEST_F(nest, outer_et_gets_one_edge_per_inner_event)
{
	struct epoll_event ev[4];
	int ob = variant->outer_be;

	ASSERT_EQ(0, pl_ctl(ob, self->outer, EPOLL_CTL_ADD, self->inner,
			    EPOLLIN | EPOLLET, 9));
	bump(self->leaf);
	ASSERT_EQ(1, pl_poll0(ob, self->outer, ev));
	ASSERT_EQ(0, pl_poll0(ob, self->outer, ev));
	bump(self->leaf);
	ASSERT_EQ(1, pl_poll0(ob, self->outer, ev));
}

struct ow {
	int be, p;
	pid_t tid;
	int ret;
};

static void *ow_fn(void *arg)
{
	struct ow *w = arg;
	struct epoll_event ev[4];

	w->tid = gettid_();
	w->ret = pl_wait(w->be, w->p, ev, 4, 10000000000LL, NULL);
	return NULL;
}

TEST_F_TIMEOUT(nest, blocked_outer_woken_by_leaf, 30)
{
	struct ow w = { .be = variant->outer_be, .p = self->outer };
	pthread_t th;

	ASSERT_EQ(0, pl_ctl(w.be, self->outer, EPOLL_CTL_ADD, self->inner,
			    EPOLLIN, 9));
	pthread_create(&th, NULL, ow_fn, &w);
	while (!w.tid)
		msleep(1);
	ASSERT_TRUE(wait_sleeping(w.tid, 2000));
	bump(self->leaf);
	pthread_join(th, NULL);
	EXPECT_EQ(1, w.ret);
}

TEST_F(nest, inner_in_poll_and_select)
{
	struct pollfd p = { .fd = self->inner, .events = POLLIN | POLLOUT };
	struct timeval tv = { 0, 0 };
	fd_set r, w;

	ASSERT_EQ(0, poll(&p, 1, 0));
	bump(self->leaf);
	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN, p.revents);	/* never writable */
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(self->inner, &r);
	FD_SET(self->inner, &w);
	ASSERT_EQ(1, select(self->inner + 1, &r, &w, NULL, &tv));
	EXPECT_TRUE(FD_ISSET(self->inner, &r));
	EXPECT_FALSE(FD_ISSET(self->inner, &w));
	drain(self->leaf);
	ASSERT_EQ(0, poll(&p, 1, 0));
}

TEST_F(nest, close_inner_while_nested)
{
	struct epoll_event ev[4];
	int ob = variant->outer_be;

	ASSERT_EQ(0, pl_ctl(ob, self->outer, EPOLL_CTL_ADD, self->inner, EPOLLIN, 9));
	bump(self->leaf);
	ASSERT_EQ(1, pl_poll0(ob, self->outer, ev));
	close(self->inner);
	self->inner = -1;
	/* the last fd of the inner is gone: no more events from it */
	ASSERT_EQ(0, pl_poll0(ob, self->outer, ev));
	bump(self->leaf);
	ASSERT_EQ(0, pl_poll0(ob, self->outer, ev));
}

/* ---- loops and depth, pure epoll against pure xpoll ---- */

FIXTURE(loop) { int be; };
XP_BACKENDS(loop);

FIXTURE_SETUP(loop)
{
	XP_REQUIRE(variant->be);
	self->be = variant->be;
}

FIXTURE_TEARDOWN(loop)
{
}

TEST_F(loop, two_cycle_is_eloop)
{
	int a = pl_create(self->be, 1), b = pl_create(self->be, 1);

	ASSERT_EQ(0, pl_ctl(self->be, a, EPOLL_CTL_ADD, b, EPOLLIN, 1));
	EXPECT_EQ(-ELOOP, pl_ctl(self->be, b, EPOLL_CTL_ADD, a, EPOLLIN, 1));
	close(a);
	close(b);
}

TEST_F(loop, three_cycle_is_eloop)
{
	int a = pl_create(self->be, 1), b = pl_create(self->be, 1),
	    c = pl_create(self->be, 1);

	ASSERT_EQ(0, pl_ctl(self->be, a, EPOLL_CTL_ADD, b, EPOLLIN, 1));
	ASSERT_EQ(0, pl_ctl(self->be, b, EPOLL_CTL_ADD, c, EPOLLIN, 1));
	EXPECT_EQ(-ELOOP, pl_ctl(self->be, c, EPOLL_CTL_ADD, a, EPOLLIN, 1));
	/* a diamond is no cycle */
	int d = pl_create(self->be, 1);

	EXPECT_EQ(0, pl_ctl(self->be, a, EPOLL_CTL_ADD, d, EPOLLIN, 1));
	EXPECT_EQ(0, pl_ctl(self->be, c, EPOLL_CTL_ADD, d, EPOLLIN, 1));
	EXPECT_EQ(-ELOOP, pl_ctl(self->be, d, EPOLL_CTL_ADD, a, EPOLLIN, 1));
	close(a); close(b); close(c); close(d);
}

/* The length of the longest chain accepted, built bottom-up (each new
 * instance gets the previous top) or top-down (each new instance is put
 * into the previous bottom); the first ELOOP ends it. */
static int chain_len(int be, bool bottom_up, int *err)
{
	int in[16], n, leaf = eventfd(0, EFD_CLOEXEC);

	in[0] = pl_create(be, 1);
	pl_ctl(be, in[0], EPOLL_CTL_ADD, leaf, EPOLLIN, 0);
	*err = 0;
	for (n = 1; n < 16; n++) {
		in[n] = pl_create(be, 1);
		*err = bottom_up ? pl_ctl(be, in[n], EPOLL_CTL_ADD, in[n - 1], EPOLLIN, n)
				 : pl_ctl(be, in[n - 1], EPOLL_CTL_ADD, in[n], EPOLLIN, n);
		if (*err) {
			close(in[n]);
			break;
		}
	}
	for (int i = 0; i < n; i++)
		close(in[i]);
	close(leaf);
	return n;
}

TEST(depth_bound_same_as_epoll)
{
	int e, x, ee, xe;

	XP_REQUIRE(BE_XPOLL);
	for (int bu = 0; bu < 2; bu++) {
		e = chain_len(BE_EPOLL, bu, &ee);
		x = chain_len(BE_XPOLL, bu, &xe);
		TH_LOG("%s: epoll chain of %d instances (%d), xpoll %d (%d)",
		       bu ? "bottom-up" : "top-down", e, ee, x, xe);
		EXPECT_EQ(-ELOOP, ee);
		EXPECT_EQ(-ELOOP, xe);
		EXPECT_GT(16, e);
		EXPECT_EQ(e, x);
	}
}

TEST(joining_two_chains_too_deep_is_eloop)
{
	for (int be = 0; be < 2; be++) {
		int a[3], b[3], r;

		XP_REQUIRE(be);
		for (int i = 0; i < 3; i++) {
			a[i] = pl_create(be, 1);
			b[i] = pl_create(be, 1);
			if (i) {
				ASSERT_EQ(0, pl_ctl(be, a[i], EPOLL_CTL_ADD, a[i - 1], EPOLLIN, 0));
				ASSERT_EQ(0, pl_ctl(be, b[i], EPOLL_CTL_ADD, b[i - 1], EPOLLIN, 0));
			}
		}
		/* 3 + 3 instances in one chain: deeper than 5 */
		r = pl_ctl(be, a[0], EPOLL_CTL_ADD, b[2], EPOLLIN, 0);
		EXPECT_EQ(-ELOOP, r) TH_LOG("%s", be_name[be]);
		for (int i = 0; i < 3; i++) {
			close(a[i]);
			close(b[i]);
		}
	}
}

TEST(deepest_chain_propagates_events)
{
	for (int be = 0; be < 2; be++) {
		int in[8], n, err, leaf = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event ev[4];

		XP_REQUIRE(be);
		n = chain_len(be, true, &err);
		in[0] = pl_create(be, 1);
		ASSERT_EQ(0, pl_ctl(be, in[0], EPOLL_CTL_ADD, leaf, EPOLLIN, 0));
		for (int i = 1; i < n; i++) {
			in[i] = pl_create(be, 1);
			ASSERT_EQ(0, pl_ctl(be, in[i], EPOLL_CTL_ADD, in[i - 1], EPOLLIN, i));
		}
		ASSERT_EQ(0, pl_poll0(be, in[n - 1], ev));
		bump(leaf);
		ASSERT_EQ(1, pl_poll0(be, in[n - 1], ev)) TH_LOG("%s", be_name[be]);
		EXPECT_EQ(n - 1, ev[0].data.u64);
		for (int i = 0; i < n; i++)
			close(in[i]);
		close(leaf);
	}
}

/*
 * epoll X inside xpoll A, then A into X: xpoll cannot look inside epoll
 * and epoll cannot look inside xpoll, so the cycle may be accepted.  If
 * it is, polling and waking through it must still end (bounded
 * recursion); run it in a child so a hang is a failure, not a stuck run.
 */
TEST(mixed_epoll_xpoll_cycle_is_bounded)
{
	int status;
	pid_t pid;

	XP_REQUIRE(BE_XPOLL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct epoll_event ev[4];
		int x = pl_create(BE_XPOLL, 1), e = pl_create(BE_EPOLL, 1);
		int leaf = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), r1, r2;
		struct pollfd p[2] = { { .fd = x, .events = POLLIN },
				       { .fd = e, .events = POLLIN } };

		r1 = pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, e, EPOLLIN, 1);
		r2 = pl_ctl(BE_EPOLL, e, EPOLL_CTL_ADD, x, EPOLLIN, 2);
		printf("# mixed cycle: epoll into xpoll %d, xpoll into epoll %d\n",
		       r1, r2);
		if (r1 || r2)
			_exit(0); /* refused: nothing can recurse */
		pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, leaf, EPOLLIN, 3);
		for (int i = 0; i < 100; i++) {
			bump(leaf);
			pl_poll0(BE_XPOLL, x, ev);
			pl_poll0(BE_EPOLL, e, ev);
			poll(p, 2, 0);
			drain(leaf);
			pl_poll0(BE_XPOLL, x, ev);
			poll(p, 2, 0);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x", status);
}

XP_NO_HOOK
XP_MAIN
