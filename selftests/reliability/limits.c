// SPDX-License-Identifier: GPL-2.0
/*
 * Limits and security of xpoll (issue 5, item 4):
 *  - the per-user watch limit is enforced, configurable through the module
 *    parameter max_user_watches, counted across instances, per user;
 *  - item memory is charged to the memory cgroup of the caller;
 *  - nesting depth and cycles are refused exactly where epoll refuses them;
 *  - maxevents bounds are epoll's;
 *  - EPOLLWAKEUP without CAP_BLOCK_SUSPEND is dropped, as epoll does;
 *  - fdinfo and the kernel log show no raw kernel pointer.
 * Run as root in a guest with xpoll loaded.
 */
#include "rel.h"
#include <regex.h>
#include <sys/klog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/capability.h>

#define LIMIT_PARAM MODPARAM "max_user_watches"

/* ---- per-user watch limit ------------------------------------------------ */

FIXTURE(watch_limit) {
	char saved[64];
	int efd[80];
};

FIXTURE_SETUP(watch_limit)
{
	int i;

	if (geteuid())
		SKIP(return, "needs root to set the module parameter");
	ASSERT_EQ(0, read_text(LIMIT_PARAM, self->saved, sizeof(self->saved)))
		TH_LOG("no %s: the limit must be a module parameter", LIMIT_PARAM);
	for (i = 0; i < 80; i++)
		ASSERT_LE(0, self->efd[i] = new_efd(1));
}

FIXTURE_TEARDOWN(watch_limit)
{
	if (self->saved[0])
		write_text(LIMIT_PARAM, self->saved);
}

/* Add efd[from..] to x until the first failure; returns how many went in. */
static int fill(int x, int *efd, int from, int n, int *err)
{
	int i, r = 0;

	for (i = from; i < n; i++) {
		r = xp_ctl(x, XPOLL_CTL_ADD, efd[i], EPOLLIN, i);
		if (r)
			break;
	}
	*err = r;
	return i - from;
}

TEST_F(watch_limit, enforced_configurable_and_shared_by_instances)
{
	int x1 = xp_open(), x2 = xp_open(), err, a, b;

	ASSERT_LE(0, x1);
	ASSERT_LE(0, x2);
	/* this user owns no other watch now (the tests run one at a time) */
	ASSERT_EQ(0, write_text(LIMIT_PARAM, "16"));
	ASSERT_EQ(16, read_long(LIMIT_PARAM));
	a = fill(x1, self->efd, 0, 10, &err);
	ASSERT_EQ(10, a);
	b = fill(x2, self->efd, 10, 40, &err);
	EXPECT_EQ(6, b) TH_LOG("the limit counts the watches of all instances");
	EXPECT_EQ(-ENOSPC, err);

	/* raising the parameter takes effect at once */
	ASSERT_EQ(0, write_text(LIMIT_PARAM, "20"));
	b = fill(x2, self->efd, 16, 40, &err);
	EXPECT_EQ(4, b);
	EXPECT_EQ(-ENOSPC, err);

	/* a DEL gives one back; closing an instance gives all of its back */
	ASSERT_EQ(0, xp_ctl(x1, XPOLL_CTL_DEL, self->efd[0], 0, 0));
	EXPECT_EQ(0, xp_ctl(x2, XPOLL_CTL_ADD, self->efd[0], EPOLLIN, 0));
	EXPECT_EQ(-ENOSPC, xp_ctl(x2, XPOLL_CTL_ADD, self->efd[60], EPOLLIN, 0));
	close(x1);
	b = 0;
	for (int t = 0; t < 30 && b < 9; t++) {	/* release may be deferred */
		b += fill(x2, self->efd, 40 + b, 49, &err);
		if (b < 9)
			usleep(100000);
	}
	EXPECT_EQ(9, b) TH_LOG("closing an instance must release its watches");
	close(x2);
}

TEST_F(watch_limit, counted_per_user)
{
	int x = xp_open(), err, pipefd[2];
	pid_t pid;
	int status;

	ASSERT_LE(0, x);
	ASSERT_EQ(0, write_text(LIMIT_PARAM, "8"));
	ASSERT_EQ(8, fill(x, self->efd, 0, 20, &err));
	ASSERT_EQ(-ENOSPC, err);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* another user has a budget of its own */
		int y, n;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		y = xp_open();
		if (y < 0)
			_exit(11);
		n = fill(y, self->efd, 20, 40, &err);
		_exit(n == 8 && err == -ENOSPC ? 0 : 20 + n);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("user 65534 should add exactly 8 watches (exit %d: 20+n added)",
		       WEXITSTATUS(status));
	close(x);
}

/* ---- memory cgroup charging ---------------------------------------------- */

#define CG_ROOT "/sys/fs/cgroup"
#define NW 4000

static long cg_current(const char *cg)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/memory.current", cg);
	return read_long(p);
}

/* Bytes charged per watch for ADDs of NW eventfds into an xpoll or epoll fd. */
static long charged_per_watch(struct __test_metadata *_metadata, const char *cg,
			      int use_epoll)
{
	static int efd[NW];
	long before, after;
	int x = use_epoll ? epoll_create1(EPOLL_CLOEXEC) : xp_open(), i, r;

	if (x < 0)
		return -1;
	for (i = 0; i < NW; i++)
		if ((efd[i] = new_efd(0)) < 0)
			return -1;
	usleep(100000);
	before = cg_current(cg);
	for (i = 0; i < NW; i++) {
		r = use_epoll ? ep_ctl(x, EPOLL_CTL_ADD, efd[i], EPOLLIN, i)
			      : xp_ctl(x, XPOLL_CTL_ADD, efd[i], EPOLLIN, i);
		if (r) {
			TH_LOG("ADD %d failed: %s", i, strerror(-r));
			return -1;
		}
	}
	after = cg_current(cg);
	close(x);
	for (i = 0; i < NW; i++)
		close(efd[i]);
	return (after - before) / NW;
}

/* a fixture only for the longer timeout: thousands of fds under KASAN */
FIXTURE(memcg) {
	int unused;
};

FIXTURE_SETUP(memcg)
{
}

FIXTURE_TEARDOWN(memcg)
{
}

TEST_F_TIMEOUT(memcg, charges_watch_memory, 300)
{
	char cg[128], procs[160], pid[32], ctrl[256];
	struct rlimit rl = { NW + 256, NW + 256 };
	long xp, ep;

	if (geteuid())
		SKIP(return, "needs root for cgroups");
	if (read_text(CG_ROOT "/cgroup.controllers", ctrl, sizeof(ctrl)) ||
	    !strstr(ctrl, "memory"))
		SKIP(return, "no cgroup v2 memory controller at " CG_ROOT);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	/* LIMIT_PARAM default is far above NW on any guest with 256 MB */
	write_text(CG_ROOT "/cgroup.subtree_control", "+memory");
	snprintf(cg, sizeof(cg), CG_ROOT "/xpoll-rel-%d", getpid());
	ASSERT_EQ(0, mkdir(cg, 0755));
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, write_text(procs, pid));
	ASSERT_LE(0, cg_current(cg));

	ep = charged_per_watch(_metadata, cg, 1);
	xp = charged_per_watch(_metadata, cg, 0);
	TH_LOG("memory.current grew by %ld bytes per watch with xpoll, %ld with epoll",
	       xp, ep);
	write_text(CG_ROOT "/cgroup.procs", pid);
	rmdir(cg);
	/*
	 * An xpoll item holds at least an rbtree node, list links, the data and
	 * a wait entry: well over 64 bytes. Not charged, the delta is noise.
	 */
	EXPECT_GE(xp, 64) TH_LOG("xpoll watches are not charged to the memory cgroup");
	EXPECT_LE(xp, 4096);
}

/* ---- nesting depth and cycles ------------------------------------------- */

static int do_open(int use_epoll)
{
	return use_epoll ? epoll_create1(EPOLL_CLOEXEC) : xp_open();
}

static int do_add(int use_epoll, int x, int fd)
{
	return use_epoll ? ep_ctl(x, EPOLL_CTL_ADD, fd, EPOLLIN, fd)
			 : xp_ctl(x, XPOLL_CTL_ADD, fd, EPOLLIN, fd);
}

/*
 * Chain of instances, built bottom-up (each new instance gets the previous
 * one) or top-down (each new instance is added into the previous one).
 * Returns the number of links made before the first failure and its errno.
 */
static int chain(int use_epoll, int top_down, int *err)
{
	int x[12], i, r = 0, links = 0, e = new_efd(1);

	for (i = 0; i < 12; i++)
		x[i] = do_open(use_epoll);
	if (!top_down)
		r = do_add(use_epoll, x[0], e);
	for (i = 1; i < 12 && !r; i++) {
		r = top_down ? do_add(use_epoll, x[i - 1], x[i])
			     : do_add(use_epoll, x[i], x[i - 1]);
		if (!r)
			links++;
	}
	if (top_down && !r)
		r = do_add(use_epoll, x[11], e);
	*err = r;
	for (i = 0; i < 12; i++)
		close(x[i]);
	close(e);
	return links;
}

TEST(nesting_depth_refused_where_epoll_refuses)
{
	int eerr, xerr, el, xl;

	el = chain(1, 0, &eerr);
	xl = chain(0, 0, &xerr);
	TH_LOG("bottom-up: epoll made %d links (%d), xpoll %d (%d)", el, eerr, xl, xerr);
	EXPECT_EQ(-ELOOP, eerr);
	EXPECT_EQ(-ELOOP, xerr);
	EXPECT_EQ(el, xl);

	el = chain(1, 1, &eerr);
	xl = chain(0, 1, &xerr);
	TH_LOG("top-down: epoll made %d links (%d), xpoll %d (%d)", el, eerr, xl, xerr);
	EXPECT_EQ(-ELOOP, eerr);
	EXPECT_EQ(-ELOOP, xerr);
	EXPECT_EQ(el, xl);
}

TEST(cycles_refused)
{
	int a = xp_open(), b = xp_open(), c = xp_open();

	ASSERT_LE(0, a);
	EXPECT_EQ(-EINVAL, xp_ctl(a, XPOLL_CTL_ADD, a, EPOLLIN, 0));
	ASSERT_EQ(0, xp_ctl(a, XPOLL_CTL_ADD, b, EPOLLIN, 0));
	ASSERT_EQ(0, xp_ctl(b, XPOLL_CTL_ADD, c, EPOLLIN, 0));
	EXPECT_EQ(-ELOOP, xp_ctl(b, XPOLL_CTL_ADD, a, EPOLLIN, 0));
	EXPECT_EQ(-ELOOP, xp_ctl(c, XPOLL_CTL_ADD, a, EPOLLIN, 0));
	EXPECT_EQ(-ELOOP, xp_ctl(c, XPOLL_CTL_ADD, b, EPOLLIN, 0));
	close(a);
	close(b);
	close(c);
}

/* ---- maxevents ------------------------------------------------------------ */

TEST(maxevents_bounds_as_epoll)
{
	static const int vals[] = {
		0, -1, -2147483647 - 1, 1,
		(int)(2147483647 / sizeof(struct epoll_event)),
		(int)(2147483647 / sizeof(struct epoll_event)) + 1, 2147483647,
	};
	struct epoll_event *buf = malloc(sizeof(*buf) * 4);
	int x = xp_open(), ep = epoll_create1(0), e = new_efd(1), i, rx, re;

	ASSERT_LE(0, x);
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, ep_ctl(ep, EPOLL_CTL_ADD, e, EPOLLIN, 1));
	for (i = 0; i < (int)(sizeof(vals) / sizeof(vals[0])); i++) {
		re = epoll_wait(ep, buf, vals[i], 0);
		re = re < 0 ? -errno : re;
		rx = xp_wait(x, buf, vals[i], 0);
		EXPECT_EQ(re, rx) TH_LOG("maxevents %d: epoll %d, xpoll %d", vals[i], re, rx);
	}
	free(buf);
	close(x);
	close(ep);
	close(e);
}

/* ---- EPOLLWAKEUP ------------------------------------------------------------ */

static int drop_cap_block_suspend(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_TO_INDEX(CAP_BLOCK_SUSPEND)].effective &= ~CAP_TO_MASK(CAP_BLOCK_SUSPEND);
	d[CAP_TO_INDEX(CAP_BLOCK_SUSPEND)].permitted &= ~CAP_TO_MASK(CAP_BLOCK_SUSPEND);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* The events field of the fdinfo line of target fd, or -1. */
static long fdinfo_events(int x, int fd)
{
	char buf[4096], *p;
	int tfd;
	unsigned int ev;

	if (fdinfo_text(x, buf, sizeof(buf)))
		return -1;
	for (p = buf; (p = strstr(p, "tfd:")); p++)
		if (sscanf(p, "tfd: %d events: %x", &tfd, &ev) == 2 && tfd == fd)
			return ev;
	return -1;
}

TEST(epollwakeup_dropped_without_cap_block_suspend)
{
	int x = xp_open(), ep = epoll_create1(0), e = new_efd(1);
	long xe, ee;

	ASSERT_LE(0, x);
	ASSERT_EQ(0, drop_cap_block_suspend());
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, e, EPOLLIN | EPOLLWAKEUP, 1));
	ASSERT_EQ(0, ep_ctl(ep, EPOLL_CTL_ADD, e, EPOLLIN | EPOLLWAKEUP, 1));
	xe = fdinfo_events(x, e);
	ee = fdinfo_events(ep, e);
	TH_LOG("fdinfo events after ADD: epoll %#lx, xpoll %#lx", ee, xe);
	ASSERT_NE(-1, xe);
	EXPECT_EQ(0, xe & EPOLLWAKEUP);
	EXPECT_EQ(0, ee & EPOLLWAKEUP);
	EXPECT_EQ(ee, xe);
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_MOD, e, EPOLLIN | EPOLLOUT | EPOLLWAKEUP, 1));
	ASSERT_EQ(0, ep_ctl(ep, EPOLL_CTL_MOD, e, EPOLLIN | EPOLLOUT | EPOLLWAKEUP, 1));
	xe = fdinfo_events(x, e);
	ee = fdinfo_events(ep, e);
	EXPECT_EQ(0, xe & EPOLLWAKEUP);
	EXPECT_EQ(ee, xe);
	close(x);
	close(ep);
	close(e);
}

/* ---- no raw kernel pointers ------------------------------------------------- */

/* A 64-bit kernel address printed in hex: ffff followed by 12 hex digits. */
static int has_kernel_pointer(const char *s, char *hit, size_t len)
{
	regex_t re;
	regmatch_t m;
	int found;

	if (regcomp(&re, "ffff[0-9a-f]{12}", REG_EXTENDED | REG_ICASE))
		return -1;
	found = !regexec(&re, s, 1, &m, 0);
	if (found)
		snprintf(hit, len, "%.*s", (int)(m.rm_eo - m.rm_so), s + m.rm_so);
	regfree(&re);
	return found;
}

TEST(fdinfo_shows_no_kernel_pointers)
{
	int x = xp_open(), inner = xp_open(), ep = epoll_create1(0);
	int e = new_efd(1), p[2], sv[2];
	char buf[8192], hit[32];

	ASSERT_LE(0, x);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, xp_ctl(inner, XPOLL_CTL_ADD, e, EPOLLIN, 7));
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, e, EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, p[0], EPOLLIN, 2));
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, p[1], EPOLLOUT, 3));
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, sv[0], EPOLLIN | EPOLLRDHUP, 4));
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, inner, EPOLLIN, 5));
	ASSERT_EQ(0, xp_ctl(x, XPOLL_CTL_ADD, ep, EPOLLIN, 6));
	ASSERT_EQ(0, fdinfo_text(x, buf, sizeof(buf)));
	EXPECT_EQ(6, fdinfo_items(x));
	EXPECT_EQ(0, has_kernel_pointer(buf, hit, sizeof(hit)))
		TH_LOG("fdinfo shows %s:\n%s", hit, buf);
	ASSERT_EQ(0, fdinfo_text(inner, buf, sizeof(buf)));
	EXPECT_EQ(0, has_kernel_pointer(buf, hit, sizeof(hit)))
		TH_LOG("fdinfo shows %s:\n%s", hit, buf);
	close(x);
	close(inner);
}

TEST(kernel_log_shows_no_kernel_pointers)
{
	static char log[1 << 20];
	char hit[32], *l;
	int n, lines = 0;

	n = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	if (n < 0)
		SKIP(return, "cannot read the kernel log: %s", strerror(errno));
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof(log) - 1);
	ASSERT_LE(0, n);
	log[n] = 0;
	for (l = strtok(log, "\n"); l; l = strtok(NULL, "\n")) {
		if (!strcasestr(l, "xpoll"))
			continue;
		lines++;
		EXPECT_EQ(0, has_kernel_pointer(l, hit, sizeof(hit)))
			TH_LOG("kernel log line: %s", l);
	}
	TH_LOG("%d kernel log lines name xpoll", lines);
}

TEST_HARNESS_MAIN
