// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 4: re-poll before report, LT / ET / ONESHOT / EXCLUSIVE,
 * RDHUP, PRI, ERR/HUP always reported, EPOLLWAKEUP without the
 * capability, and with it the wakeup sources (issue 17).  Each test runs on epoll and on xpoll (variants) and asserts
 * what epoll(7) specifies.
 */
#include "xp_test.h"
#include <dirent.h>
#include <linux/capability.h>
#include <sys/stat.h>

FIXTURE(modes) { int be, p; };
XP_BACKENDS(modes);

FIXTURE_SETUP(modes)
{
	XP_REQUIRE(variant->be);
	self->be = variant->be;
	self->p = pl_create(self->be, 1);
	ASSERT_LE(0, self->p) TH_LOG("%s", strerror(-self->p));
}

FIXTURE_TEARDOWN(modes)
{
	close(self->p);
}

#define CTL(op, fd, ev, d) pl_ctl(self->be, self->p, op, fd, ev, d)
#define POLL0(ev) pl_poll0(self->be, self->p, ev)
#define POLL0_BE(be, p, ev) pl_poll0(be, p, ev)

static void efd_write(int fd, uint64_t v)
{
	if (write(fd, &v, 8) != 8)
		abort();
}

static uint64_t efd_read(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, 8) != 8)
		return 0;
	return v;
}

TEST_F(modes, lt_reports_again_until_consumed)
{
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 5));
	ASSERT_EQ(0, POLL0(ev));
	efd_write(efd, 1);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(1, POLL0(ev)) TH_LOG("round %d", i);
		EXPECT_EQ(EPOLLIN, ev[0].events);
		EXPECT_EQ(5, ev[0].data.u64);
	}
	efd_read(efd);
	ASSERT_EQ(0, POLL0(ev));
	close(efd);
}

TEST_F(modes, et_reports_once_per_edge)
{
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 5));
	efd_write(efd, 1);
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	ASSERT_EQ(0, POLL0(ev)) TH_LOG("ET reported twice for one edge");
	efd_write(efd, 1);
	ASSERT_EQ(1, POLL0(ev));
	ASSERT_EQ(0, POLL0(ev));
	close(efd);
}

TEST_F(modes, add_of_ready_target_reports_at_once)
{
	struct epoll_event ev[4];
	int efd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);

	/* ET too: the state at ADD counts as an edge. */
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 5));
	ASSERT_EQ(1, POLL0(ev));
	ASSERT_EQ(0, POLL0(ev));
	close(efd);
}

TEST_F(modes, repoll_drops_item_no_longer_ready)
{
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), fds[2];

	ASSERT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, fds[0], EPOLLIN, 2));
	efd_write(efd, 1);		/* queued by the callback ... */
	ASSERT_EQ(1, write(fds[1], "x", 1));
	efd_read(efd);			/* ... but no longer ready */
	char c;

	ASSERT_EQ(1, read(fds[0], &c, 1));
	ASSERT_EQ(0, POLL0(ev)) TH_LOG("reported an item that is not ready");
	close(efd);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(modes, repoll_reports_current_mask)
{
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLOUT | EPOLLET, 1));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLOUT, ev[0].events);
	efd_write(efd, 1);
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN | EPOLLOUT, ev[0].events);
	/* Only the bits asked for. */
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, efd, EPOLLIN, 2));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	EXPECT_EQ(2, ev[0].data.u64);
	close(efd);
}

TEST_F(modes, oneshot_disarms_until_mod)
{
	struct epoll_event ev[4];
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLONESHOT, 7));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(7, ev[0].data.u64);
	/* disarmed: still readable and written again, but silent */
	ASSERT_EQ(0, POLL0(ev));
	efd_write(efd, 1);
	ASSERT_EQ(0, POLL0(ev));
	/* still an item: ADD says EEXIST, MOD re-arms */
	ASSERT_EQ(-EEXIST, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 7));
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLONESHOT, 8));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(8, ev[0].data.u64);
	ASSERT_EQ(0, POLL0(ev));
	/* a MOD without ONESHOT makes it level-triggered again */
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, efd, EPOLLIN, 9));
	ASSERT_EQ(1, POLL0(ev));
	ASSERT_EQ(1, POLL0(ev));
	close(efd);
}

TEST_F(modes, oneshot_et_fires_once)
{
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET | EPOLLONESHOT, 1));
	ASSERT_EQ(0, POLL0(ev));
	efd_write(efd, 1);
	ASSERT_EQ(1, POLL0(ev));
	efd_write(efd, 1);
	ASSERT_EQ(0, POLL0(ev));
	close(efd);
}

/* ---- EPOLLEXCLUSIVE: several instances, each with a blocked waiter ---- */

#define NX 4
struct xwaiter {
	int be, p;
	pid_t tid;
	volatile int got;	/* events seen */
	int64_t timeout_ns;
};

static void *xwaiter_fn(void *arg)
{
	struct xwaiter *w = arg;
	struct epoll_event ev[4];
	int n;

	w->tid = gettid_();
	n = pl_wait(w->be, w->p, ev, 4, w->timeout_ns, NULL);
	w->got = n > 0 ? n : 0;
	return NULL;
}

/* Start NX instances on one eventfd with `mode`, block a thread in each,
 * make one event; return how many threads woke within the window. */
static int woken_instances(struct __test_metadata *_metadata, int be,
			   uint32_t mode)
{
	struct xwaiter w[NX];
	pthread_t th[NX];
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), woke = 0;

	for (int i = 0; i < NX; i++) {
		w[i] = (struct xwaiter){ .be = be, .p = pl_create(be, 1),
					 .timeout_ns = 3000000000LL };
		EXPECT_LE(0, w[i].p);
		EXPECT_EQ(0, pl_ctl(be, w[i].p, EPOLL_CTL_ADD, efd,
				    EPOLLIN | mode, i));
		pthread_create(&th[i], NULL, xwaiter_fn, &w[i]);
	}
	for (int i = 0; i < NX; i++) {
		while (!w[i].tid)
			msleep(1);
		EXPECT_TRUE(wait_sleeping(w[i].tid, 2000));
	}
	efd_write(efd, 1);
	msleep(500);
	for (int i = 0; i < NX; i++)
		woke += w[i].got > 0;
	for (int i = 0; i < NX; i++) {
		pthread_join(th[i], NULL);
		close(w[i].p);
	}
	close(efd);
	return woke;
}

TEST_F_TIMEOUT(modes, exclusive_wakes_one_instance, 60)
{
	int n = woken_instances(_metadata, self->be, EPOLLEXCLUSIVE);

	EXPECT_EQ(1, n) TH_LOG("%d of %d exclusive instances woke", n, NX);
}

TEST_F_TIMEOUT(modes, non_exclusive_wakes_every_instance, 60)
{
	int n = woken_instances(_metadata, self->be, 0);

	EXPECT_EQ(NX, n);
}

TEST_F(modes, exclusive_item_still_reports_without_waiter)
{
	struct epoll_event ev[4];
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLEXCLUSIVE, 1));
	efd_write(efd, 1);
	ASSERT_EQ(1, POLL0(ev));
	close(efd);
}

/* ---- event kinds ---- */

TEST_F(modes, rdhup_only_when_asked)
{
	struct epoll_event ev[4];
	int a[2], b[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, a[0], EPOLLIN | EPOLLRDHUP, 1));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, b[0], EPOLLIN, 2));
	ASSERT_EQ(0, POLL0(ev));
	ASSERT_EQ(0, shutdown(a[1], SHUT_WR));
	ASSERT_EQ(0, shutdown(b[1], SHUT_WR));
	int n = POLL0(ev);

	ASSERT_EQ(2, n);
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP, ev_find(ev, n, 1));
	EXPECT_EQ(EPOLLIN, ev_find(ev, n, 2));
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
}

TEST_F(modes, pri_on_tcp_urgent_data)
{
	int sv[2];

	ASSERT_EQ(0, tcp_pair(sv));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, sv[1], EPOLLPRI, 3));
	ASSERT_EQ(1, send(sv[0], "!", 1, MSG_OOB));
	EXPECT_EQ(EPOLLPRI, pl_wait_for(self->be, self->p, 3, 2000));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(modes, err_and_hup_always_reported)
{
	struct epoll_event ev[4];
	int p1[2], p2[2], s[2];

	ASSERT_EQ(0, pipe2(p1, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(p2, O_CLOEXEC));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
	/* events 0: only ERR and HUP can come */
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, p1[1], 0, 1)); /* writer */
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, p2[0], 0, 2)); /* reader */
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, s[0], 0, 3));
	ASSERT_EQ(0, POLL0(ev)) TH_LOG("writable pipe reported with events 0");
	close(p1[0]);	/* writer without reader: ERR */
	close(p2[1]);	/* reader without writer: HUP */
	close(s[1]);	/* socket without peer: HUP */
	int n = POLL0(ev);

	ASSERT_EQ(3, n);
	EXPECT_EQ(EPOLLERR, ev_find(ev, n, 1));
	EXPECT_EQ(EPOLLHUP, ev_find(ev, n, 2));
	EXPECT_EQ(EPOLLHUP, ev_find(ev, n, 3));
	/* and a MOD with events 0 keeps them */
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, p2[0], 0, 4));
	n = POLL0(ev);
	EXPECT_EQ(EPOLLHUP, ev_find(ev, n, 4));
	close(p1[1]); close(p2[0]); close(s[0]);
}

/* The events field of the item with data d in fdinfo, or -1. */
static int64_t fdinfo_events(int p, uint64_t d)
{
	struct fdinfo_item it[16];
	int n = fdinfo_parse(p, it, 16);

	for (int i = 0; i < n && i < 16; i++)
		if (it[i].data == d)
			return it[i].events;
	return -1;
}

static int drop_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[cap / 32].effective &= ~(1u << (cap % 32));
	d[cap / 32].permitted &= ~(1u << (cap % 32));
	d[cap / 32].inheritable &= ~(1u << (cap % 32));
	return syscall(SYS_capset, &h, d);
}

TEST_F(modes, wakeup_dropped_without_cap_block_suspend)
{
	struct epoll_event ev[4];
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, drop_cap(CAP_BLOCK_SUSPEND));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLWAKEUP, 0x1234));
	/* accepted, silently without the WAKEUP bit */
	EXPECT_EQ(EPOLLIN | EPOLLERR | EPOLLHUP, fdinfo_events(self->p, 0x1234));
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, efd, EPOLLIN | EPOLLWAKEUP | EPOLLET,
			 0x1234));
	EXPECT_EQ(EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLET,
		  fdinfo_events(self->p, 0x1234));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	close(efd);
}

TEST_F(modes, wakeup_accepted_with_cap)
{
	struct epoll_event ev[4];
	int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	if (geteuid())
		XP_SKIP("%s: needs CAP_BLOCK_SUSPEND (root)", _metadata->name);
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLWAKEUP, 1));
	/*
	 * Kept in the interest set exactly when epoll keeps it (epoll drops
	 * it on kernels without CONFIG_PM_SLEEP, as the debug kernel is):
	 * the same ADD on an epoll instance beside it, fdinfo compared.
	 */
	int ref = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = { .events = EPOLLIN | EPOLLWAKEUP, .data.u64 = 1 };

	ASSERT_LE(0, ref);
	ASSERT_EQ(0, epoll_ctl(ref, EPOLL_CTL_ADD, efd, &e));
	EXPECT_EQ(fdinfo_events(ref, 1), fdinfo_events(self->p, 1));
	TH_LOG("epoll keeps %#" PRIx64 " here", fdinfo_events(ref, 1));
	close(ref);
	/* never reported as an event bit */
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	close(efd);
}

/* State of the wakeup source named @name in /sys/class/wakeup. */
struct ws_state { int found; long active_count; int active; };

static long ws_read(const char *dir, const char *f)
{
	char path[512], buf[64];
	long v = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, f);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	if (!fgets(buf, sizeof(buf), fp) || sscanf(buf, "%ld", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

static struct ws_state ws_find(const char *name)
{
	struct ws_state st = { 0, -1, -1 };
	char dir[300], path[340], buf[256];
	struct dirent *d;
	DIR *dp = opendir("/sys/class/wakeup");
	FILE *fp;

	if (!dp)
		return st;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "/sys/class/wakeup/%s", d->d_name);
		snprintf(path, sizeof(path), "%s/name", dir);
		fp = fopen(path, "r");
		if (!fp)
			continue;
		if (fgets(buf, sizeof(buf), fp)) {
			buf[strcspn(buf, "\n")] = 0;
			if (!strcmp(buf, name)) {
				st.found++;
				st.active_count = ws_read(dir, "active_count");
				/* 0 while inactive, ms since activation else */
				st.active = ws_read(dir, "active_time_ms") > 0;
			}
		}
		fclose(fp);
	}
	closedir(dp);
	return st;
}

/*
 * EPOLLWAKEUP as epoll keeps it: the item's wakeup source (named after
 * its file, here a FIFO with a name of its own) exists while the item
 * has the bit, is active while the item is ready, is relaxed when a wait
 * takes the event (and active again for a level-triggered item still
 * ready) or when a poll() of the instance finds it no longer ready, and
 * goes with DEL or a MOD without the bit.  Every step is run
 * on epoll and on xpoll in this one program and compared.
 */
TEST(wakeup_source_as_epoll)
{
	struct ws_state st[2][12];
	struct epoll_event ev[4];
	char name[64], path[96], c, drain[8];
	int steps = 0;

	XP_REQUIRE(BE_XPOLL);
	if (geteuid())
		XP_SKIP("%s: needs CAP_BLOCK_SUSPEND (root)", _metadata->name);
	if (access("/sys/power/wakeup_count", F_OK) ||
	    access("/sys/class/wakeup", F_OK))
		XP_SKIP("%s: this kernel has no CONFIG_PM_SLEEP: epoll and xpoll both drop EPOLLWAKEUP",
			_metadata->name);
	snprintf(name, sizeof(name), "xpoll-ws-%d", getpid());
	snprintf(path, sizeof(path), "/tmp/%s", name);
	unlink(path);
	ASSERT_EQ(0, mkfifo(path, 0600));
	for (int be = BE_EPOLL; be <= BE_XPOLL; be++) {
		int p = pl_create(be, 1), f = open(path, O_RDWR | O_NONBLOCK);
		struct pollfd pfd;
		int i = 0;

		ASSERT_LE(0, p);
		ASSERT_LE(0, f);
#define STEP() do { msleep(20); st[be][i++] = ws_find(name); } while (0)
		ASSERT_EQ(0, pl_ctl(be, p, EPOLL_CTL_ADD, f,
				    EPOLLIN | EPOLLWAKEUP, 1));
		STEP();				/* 0: there, idle */
		ASSERT_EQ(1, write(f, "x", 1));
		STEP();				/* 1: ready: active */
		ASSERT_EQ(1, POLL0_BE(be, p, ev));
		STEP();				/* 2: LT, still ready: active */
		ASSERT_EQ(1, read(f, &c, 1));
		ASSERT_EQ(0, POLL0_BE(be, p, ev));
		STEP();				/* 3: taken, not ready: relaxed */
		ASSERT_EQ(0, pl_ctl(be, p, EPOLL_CTL_MOD, f, EPOLLIN, 1));
		STEP();				/* 4: gone */
		ASSERT_EQ(0, pl_ctl(be, p, EPOLL_CTL_MOD, f,
				    EPOLLIN | EPOLLET | EPOLLWAKEUP, 1));
		STEP();				/* 5: there again, idle */
		ASSERT_EQ(1, write(f, "x", 1));
		STEP();				/* 6: ready: active */
		ASSERT_EQ(1, POLL0_BE(be, p, ev));
		STEP();				/* 7: ET, taken: relaxed */
		ASSERT_EQ(1, write(f, "x", 1));
		STEP();				/* 8: ready again: active */
		/* Drain: steps 6 and 8 wrote a byte each. */
		ASSERT_EQ(2, read(f, drain, sizeof(drain)));
		pfd = (struct pollfd){ .fd = p, .events = POLLIN };
		ASSERT_EQ(0, poll(&pfd, 1, 0));
		STEP();				/* 9: poll() dropped it: relaxed */
		ASSERT_EQ(0, pl_ctl(be, p, EPOLL_CTL_DEL, f, 0, 0));
		STEP();				/* 10: gone */
		ASSERT_EQ(0, pl_ctl(be, p, EPOLL_CTL_ADD, f,
				    EPOLLIN | EPOLLWAKEUP, 1));
		close(p);
		STEP();				/* 11: the instance's close */
#undef STEP
		steps = i;
		close(f);
	}
	unlink(path);
	for (int i = 0; i < steps; i++) {
		TH_LOG("step %d: epoll found %d count %ld active %d, xpoll found %d count %ld active %d",
		       i, st[0][i].found, st[0][i].active_count, st[0][i].active,
		       st[1][i].found, st[1][i].active_count, st[1][i].active);
		EXPECT_EQ(st[0][i].found, st[1][i].found);
		EXPECT_EQ(st[0][i].active_count, st[1][i].active_count);
		EXPECT_EQ(st[0][i].active, st[1][i].active);
	}
	/* Not a comparison of two nothings: the source came and went. */
	EXPECT_EQ(1, st[1][1].found);
	EXPECT_EQ(1, st[1][1].active);
	EXPECT_EQ(0, st[1][3].active);
	EXPECT_EQ(0, st[1][4].found);
	EXPECT_EQ(1, st[1][8].active);
	EXPECT_EQ(0, st[1][9].active);
	EXPECT_EQ(0, st[1][11].found);
}

XP_NO_HOOK
XP_MAIN
