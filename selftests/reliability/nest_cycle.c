// SPDX-License-Identifier: GPL-2.0
/*
 * Nesting through epoll (issue 5 item 4, issue 3 point 6): neither side can
 * see inside the other. epoll checks loops and depth only among epoll
 * files; xpoll counts an epoll target as a leaf. So two things can be
 * built that neither checker refuses by itself:
 *  - a cycle xpoll -> epoll -> xpoll;
 *  - an alternating chain xpoll > epoll > xpoll > epoll ... of any length.
 * Whatever is refused must be refused with ELOOP; whatever is accepted
 * must then deliver a wakeup without unbounded recursion (a stack overflow,
 * a recursive spinlock or a lockdep report would end the guest or turn the
 * run red). A kernel that gets this wrong hangs or crashes the guest here,
 * so run.sh runs this program last.
 */
#include "rel.h"
#include <poll.h>

static int events_flow(int top, int top_is_epoll, int e)
{
	struct epoll_event ev[4];
	struct pollfd p = { .fd = top, .events = POLLIN };
	uint64_t one = 1;
	int n;

	if (write(e, &one, sizeof(one)) != sizeof(one))
		return -1;
	if (top_is_epoll)
		n = epoll_wait(top, ev, 4, 500);
	else
		n = xp_wait(top, ev, 4, 500000000LL);
	if (poll(&p, 1, 0) < 0)
		return -1;
	return n;
}

TEST(cycle_through_epoll)
{
	int x = xp_open(), ep = epoll_create1(EPOLL_CLOEXEC), e = new_efd(0), r;

	ASSERT_LE(0, x);
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, ep_ctl(ep, EPOLL_CTL_ADD, x, EPOLLIN, 2));
	r = xp_ctl(x, XPOLL_CTL_ADD, ep, EPOLLIN, 3);
	TH_LOG("ADD of an epoll set holding the instance into the instance: %s",
	       r ? strerror(-r) : "accepted");
	if (r) {
		EXPECT_EQ(-ELOOP, r);
	} else {
		/* accepted: a wakeup must go round without recursing forever */
		EXPECT_LE(1, events_flow(x, 0, e));
		EXPECT_LE(1, events_flow(ep, 1, e));
	}
	close(x);
	close(ep);
	close(e);
}

TEST(longer_cycle_through_two_epolls)
{
	int x1 = xp_open(), x2 = xp_open(), ep1 = epoll_create1(0), ep2 = epoll_create1(0);
	int e = new_efd(0), r;

	ASSERT_LE(0, x1);
	ASSERT_LE(0, x2);
	ASSERT_EQ(0, xp_ctl(x1, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, ep_ctl(ep1, EPOLL_CTL_ADD, x1, EPOLLIN, 2));
	ASSERT_EQ(0, xp_ctl(x2, XPOLL_CTL_ADD, ep1, EPOLLIN, 3));
	ASSERT_EQ(0, ep_ctl(ep2, EPOLL_CTL_ADD, x2, EPOLLIN, 4));
	r = xp_ctl(x1, XPOLL_CTL_ADD, ep2, EPOLLIN, 5);
	TH_LOG("closing x1 > ep2 > x2 > ep1 > x1: %s", r ? strerror(-r) : "accepted");
	if (r) {
		EXPECT_EQ(-ELOOP, r);
	} else {
		EXPECT_LE(1, events_flow(x1, 0, e));
	}
	close(x1);
	close(x2);
	close(ep1);
	close(ep2);
	close(e);
}

#define LEVELS 400

TEST(alternating_chain_is_bounded)
{
	static int fd[LEVELS];
	int e = new_efd(0), i, r = 0, made = 0;

	/* fd[0] = xpoll holding e; fd[i] holds fd[i-1]; odd levels are epoll */
	for (i = 0; i < LEVELS; i++) {
		fd[i] = i & 1 ? epoll_create1(EPOLL_CLOEXEC) : xp_open();
		ASSERT_LE(0, fd[i]);
		if (i == 0)
			r = xp_ctl(fd[0], XPOLL_CTL_ADD, e, EPOLLIN, 0);
		else if (i & 1)
			r = ep_ctl(fd[i], EPOLL_CTL_ADD, fd[i - 1], EPOLLIN, i);
		else
			r = xp_ctl(fd[i], XPOLL_CTL_ADD, fd[i - 1], EPOLLIN, i);
		if (r)
			break;
		made++;
	}
	TH_LOG("alternating xpoll/epoll chain: %d levels accepted%s%s", made,
	       r ? ", then " : "", r ? strerror(-r) : "");
	if (r) {
		EXPECT_EQ(-ELOOP, r);
	}
	/* the wakeup from the bottom must arrive at the top without overflow */
	EXPECT_LE(1, events_flow(fd[made - 1], (made - 1) & 1, e));
	for (i = 0; i < made + (r != 0); i++)
		close(fd[i]);
	close(e);
}

TEST_HARNESS_MAIN
