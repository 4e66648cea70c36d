// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 17: busy polling, on epoll and on xpoll in one program.
 *
 * Loopback has no NAPI, so scripts/vm gives every guest two virtio-net
 * NICs on one QEMU hub with no host backend.  The test moves one into a
 * network namespace of a receiver and the other into one of a sender,
 * with addresses only there (10.201.0.0/24), and sends a bounded stream
 * of UDP datagrams (NPKT, one every GAP_US, within SEND_S).  The
 * receiver waits for them with epoll or xpoll; BusyPollRxPackets in its
 * namespace's /proc/net/netstat counts the packets busy polling took.
 * It must move with net.core.busy_poll on, and stay put with it off, on
 * both; and on xpoll with the instance's own setting
 * (XPOLL_IOC_SET_PARAMS) and the sysctl off; and a long busy poll must
 * end at the wait's timeout.  The rules of that ioctl are checked too
 * (6.9's EPIOCSPARAMS, plus CAP_NET_ADMIN for prefer_busy_poll).
 */
#include "xp_test.h"
#include <dirent.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define NPKT		300
#define GAP_US		100
#define SEND_S		3
#define PORT		7207
#define BUSY_SYSCTL	"/proc/sys/net/core/busy_poll"
/*
 * us of busy polling per wait: long enough that the loop, not the
 * interrupt, takes most datagrams on the debug kernel too (at 500 us it
 * took 0-2 of 300 there, epoll and xpoll alike; at 20 ms about 290).
 */
#define BUSY_US		20000
#define BUSY_US_S	"20000"

/* The virtio-net NICs, by name; how many were found. */
static int virtio_nics(char names[2][32])
{
	char path[300], link[300];
	struct dirent *d;
	int n = 0;
	ssize_t l;
	DIR *dp = opendir("/sys/class/net");

	if (!dp)
		return 0;
	while ((d = readdir(dp)) && n < 2) {
		if (d->d_name[0] == '.' || strlen(d->d_name) >= 32)
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver",
			 d->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (strstr(link, "virtio_net"))
			strcpy(names[n++], d->d_name);
	}
	closedir(dp);
	return n;
}

/* BusyPollRxPackets of the caller's network namespace. */
static long busy_poll_rx(void)
{
	char head[4096], vals[4096], *h, *v, *hs, *vs;
	long r = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(head, "TcpExt:", 7))
			continue;
		h = strtok_r(head, " \n", &hs);
		v = strtok_r(vals, " \n", &vs);
		while ((h = strtok_r(NULL, " \n", &hs)) &&
		       (v = strtok_r(NULL, " \n", &vs)))
			if (!strcmp(h, "BusyPollRxPackets"))
				r = atol(v);
	}
	fclose(f);
	return r;
}

/* A child in a network namespace of its own, holding @nic at @addr. */
struct node {
	pid_t pid;
	int cmd[2], res[2];	/* parent -> child, child -> parent */
};

static int sh(const char *fmt, const char *a, const char *b)
{
	char c[256];

	snprintf(c, sizeof(c), fmt, a, b);
	return system(c) ? -1 : 0;
}

/*
 * Receiver: for each command byte (a backend, 'e'/'x'/'p' for xpoll with
 * its own setting), one run: waits for NPKT datagrams, then reports how
 * many came and how far BusyPollRxPackets moved.  'k': as 'p' with 10 s
 * of busy polling, then one more wait with a 200 ms timeout once the
 * stream is over; reports how many came and that wait's ms.
 */
static void receiver(struct node *n, const char *nic)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct epoll_event ev[16];
	long r[2];
	char c, buf[64];
	int s;

	if (sh("ip link set lo up && ip addr add 10.201.0.1/24 dev %s && ip link set %s up",
	       nic, nic))
		_exit(2);
	sa.sin_addr.s_addr = htonl(0x0ac90001);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)))
		_exit(3);
	if (write(n->res[1], "r", 1) != 1)
		_exit(4);
	while (read(n->cmd[0], &c, 1) == 1) {
		int be = c == 'e' ? BE_EPOLL : BE_XPOLL;
		int p = pl_create(be, 1);
		long got = 0, before = busy_poll_rx();
		int64_t end = now_ns() + (SEND_S + 2) * 1000000000LL;

		if (p < 0 || pl_ctl(be, p, EPOLL_CTL_ADD, s, EPOLLIN, 1))
			_exit(5);
		if (c == 'p' || c == 'k') {
			struct xpoll_params pa = {
				.busy_poll_usecs = c == 'k' ? 10000000 : BUSY_US
			};

			if (ioctl(p, XPOLL_IOC_SET_PARAMS, &pa))
				_exit(6);
		}
		while (recv(s, buf, sizeof(buf), 0) > 0)
			;	/* drop what an earlier run left */
		if (write(n->res[1], "g", 1) != 1)
			_exit(7);
		while (got < NPKT && now_ns() < end) {
			/* A datagram read is one the wait reported. */
			if (pl_wait(be, p, ev, 16, 200000000, NULL) <= 0)
				continue;
			while (recv(s, buf, sizeof(buf), 0) > 0)
				got++;
		}
		r[0] = got;
		r[1] = busy_poll_rx() - before;
		if (c == 'k') {
			int64_t t0 = now_ns();

			/* Nothing comes: the busy loop ends at the timeout. */
			r[1] = pl_wait(be, p, ev, 16, 200000000, NULL) == 0 ?
			       (now_ns() - t0) / 1000000 : -1;
		}
		close(p);
		if (write(n->res[1], r, sizeof(r)) != sizeof(r))
			_exit(8);
	}
	_exit(0);
}

/* Sender: for each command byte, NPKT datagrams, one every GAP_US. */
static void sender(struct node *n, const char *nic)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	char c;
	int s;

	if (sh("ip link set lo up && ip addr add 10.201.0.2/24 dev %s && ip link set %s up",
	       nic, nic))
		_exit(2);
	sa.sin_addr.s_addr = htonl(0x0ac90001);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || write(n->res[1], "r", 1) != 1)
		_exit(3);
	while (read(n->cmd[0], &c, 1) == 1) {
		int64_t end = now_ns() + SEND_S * 1000000000LL;

		for (int i = 0; i < NPKT && now_ns() < end; i++) {
			sendto(s, "xpoll", 5, 0, (struct sockaddr *)&sa,
			       sizeof(sa));
			usleep(GAP_US);
		}
		if (write(n->res[1], "d", 1) != 1)
			_exit(4);
	}
	_exit(0);
}

static int node_start(struct node *n, const char *nic,
		      void (*fn)(struct node *, const char *))
{
	char c, pid[16];

	if (pipe2(n->cmd, O_CLOEXEC) || pipe2(n->res, O_CLOEXEC))
		return -1;
	n->pid = fork();
	if (n->pid < 0)
		return -1;
	if (n->pid == 0) {
		close(n->cmd[1]);
		close(n->res[0]);
		if (unshare(CLONE_NEWNET) || write(n->res[1], "n", 1) != 1 ||
		    read(n->cmd[0], &c, 1) != 1)
			_exit(1);
		fn(n, nic);
	}
	close(n->cmd[0]);
	close(n->res[1]);
	if (read(n->res[0], &c, 1) != 1)
		return -1;
	snprintf(pid, sizeof(pid), "%d", n->pid);
	if (sh("ip link set dev %s netns %s", nic, pid) ||
	    write(n->cmd[1], "m", 1) != 1 || read(n->res[0], &c, 1) != 1)
		return -1;
	return 0;
}

static void node_stop(struct node *n)
{
	int status;

	close(n->cmd[1]);
	waitpid(n->pid, &status, 0);
	close(n->res[0]);
}

FIXTURE(bp) {
	struct node rx, tx;
	long old;
	bool up;
};

FIXTURE_SETUP(bp)
{
	char nic[2][32];

	self->old = -1;
	XP_REQUIRE(BE_XPOLL);
	if (geteuid())
		XP_SKIP("%s: needs root (namespaces, the sysctl)", _metadata->name);
	if (virtio_nics(nic) < 2 &&
	    (system("modprobe virtio_net 2>/dev/null") || true))
		/*
		 * The previous test's namespaces give their NICs back to
		 * this one when the kernel cleans them up, a little later.
		 */
		for (int i = 0; i < 100 && virtio_nics(nic) < 2; i++)
			msleep(100);
	if (virtio_nics(nic) < 2)
		XP_SKIP("%s: no two virtio-net NICs (scripts/vm puts two on a QEMU hub)",
			_metadata->name);
	self->old = read_long(BUSY_SYSCTL);
	if (self->old < 0)
		XP_SKIP("%s: this kernel has no %s (no CONFIG_NET_RX_BUSY_POLL)",
			_metadata->name, BUSY_SYSCTL);
	ASSERT_EQ(0, node_start(&self->rx, nic[0], receiver));
	ASSERT_EQ(0, node_start(&self->tx, nic[1], sender));
	self->up = true;
}

FIXTURE_TEARDOWN(bp)
{
	char b[24];

	if (self->up) {
		node_stop(&self->tx);
		node_stop(&self->rx);
	}
	if (self->old >= 0) {
		snprintf(b, sizeof(b), "%ld", self->old);
		write_str(BUSY_SYSCTL, b);
	}
}

/* One run: @c to the receiver, the stream from the sender; {got, delta}. */
static void run(FIXTURE_DATA(bp) *self, char c, long r[2])
{
	char d;

	r[0] = r[1] = -1;
	if (write(self->rx.cmd[1], &c, 1) != 1 ||
	    read(self->rx.res[0], &d, 1) != 1 ||
	    write(self->tx.cmd[1], "s", 1) != 1 ||
	    read(self->tx.res[0], &d, 1) != 1 ||
	    read(self->rx.res[0], r, 2 * sizeof(long)) != 2 * sizeof(long))
		r[0] = r[1] = -1;
}

TEST_F_TIMEOUT(bp, busy_poll_as_epoll, 120)
{
	static const struct { char c; const char *sysctl, *what; } runs[] = {
		{ 'e', "0", "epoll, busy_poll 0" },
		{ 'x', "0", "xpoll, busy_poll 0" },
		{ 'e', BUSY_US_S, "epoll, busy_poll " BUSY_US_S },
		{ 'x', BUSY_US_S, "xpoll, busy_poll " BUSY_US_S },
		{ 'p', "0", "xpoll, busy_poll 0, busy_poll_usecs " BUSY_US_S },
	};
	long r[5][2];

	for (int i = 0; i < 5; i++) {
		ASSERT_EQ(0, write_str(BUSY_SYSCTL, runs[i].sysctl));
		/* xpoll reads the sysctl again within 10 ms (busy.c). */
		msleep(50);
		run(self, runs[i].c, r[i]);
		TH_LOG("%-50s %ld of %d datagrams, BusyPollRxPackets +%ld",
		       runs[i].what, r[i][0], NPKT, r[i][1]);
		ASSERT_LE(0, r[i][0]);
	}
	/* Off: busy polling takes nothing, on either. */
	EXPECT_EQ(0, r[0][1]);
	EXPECT_EQ(0, r[1][1]);
	/* On: it takes packets, on both, and with xpoll's own setting. */
	EXPECT_LT(0, r[2][1]);
	EXPECT_LT(0, r[3][1]);
	EXPECT_LT(0, r[4][1]);
}

/*
 * An instance's own busy-poll time (up to INT32_MAX us for anyone) never
 * keeps a wait past its timeout: 10 s of busy polling, a 200 ms wait on a
 * socket with a NAPI id and nothing coming.
 */
TEST_F_TIMEOUT(bp, busy_loop_ends_at_the_timeout, 120)
{
	long r[2];

	ASSERT_EQ(0, write_str(BUSY_SYSCTL, "0"));
	run(self, 'k', r);
	TH_LOG("%ld of %d datagrams; then a 200 ms wait took %ld ms", r[0],
	       NPKT, r[1]);
	ASSERT_LT(0, r[0]);
	EXPECT_LE(150, r[1]);
	EXPECT_GT(1500, r[1]);
}

TEST(params_rules_as_6_9)
{
	struct xpoll_params p = { 0 }, g;
	int x, status;
	pid_t pid;

	XP_REQUIRE(BE_XPOLL);
	x = xp_open(O_CLOEXEC);
	ASSERT_LE(0, x);
	memset(&g, 0xff, sizeof(g));
	ASSERT_EQ(0, ioctl(x, XPOLL_IOC_GET_PARAMS, &g));
	EXPECT_EQ(0u, g.busy_poll_usecs);
	EXPECT_EQ(0, g.busy_poll_budget);
	EXPECT_EQ(0, g.prefer_busy_poll);
	EXPECT_EQ(0, g.pad);
	EXPECT_EQ(0ull, g.reserved[0] | g.reserved[1]);

	p = (struct xpoll_params){ .pad = 1 };
	EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_SET_PARAMS, &p));
	EXPECT_EQ(EINVAL, errno);
	p = (struct xpoll_params){ .busy_poll_usecs = 0x80000000u };
	EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_SET_PARAMS, &p));
	EXPECT_EQ(EINVAL, errno);
	p = (struct xpoll_params){ .prefer_busy_poll = 2 };
	EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_SET_PARAMS, &p));
	EXPECT_EQ(EINVAL, errno);
	p = (struct xpoll_params){ .reserved = { 0, 1 } };
	EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_SET_PARAMS, &p));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_SET_PARAMS, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	p = (struct xpoll_params){ .busy_poll_usecs = 0x7fffffff,
				   .busy_poll_budget = 64,
				   .prefer_busy_poll = 1 };
	ASSERT_EQ(0, ioctl(x, XPOLL_IOC_SET_PARAMS, &p));
	ASSERT_EQ(0, ioctl(x, XPOLL_IOC_GET_PARAMS, &g));
	EXPECT_EQ(0, memcmp(&p, &g, sizeof(p)));

	/* A budget above 64 needs CAP_NET_ADMIN: uid 65534 gets EPERM. */
	pid = fork();
	if (pid == 0) {
		struct xpoll_params q = { .busy_poll_budget = 65 };
		int y = xp_open(O_CLOEXEC);

		if (xp_drop_privs(XP_NOBODY) || y < 0)
			_exit(1);
		if (ioctl(y, XPOLL_IOC_SET_PARAMS, &q) != -1 || errno != EPERM)
			_exit(2);
		/* Not 6.9's rule: as SO_PREFER_BUSY_POLL on 6.1. */
		q = (struct xpoll_params){ .prefer_busy_poll = 1 };
		if (ioctl(y, XPOLL_IOC_SET_PARAMS, &q) != -1 || errno != EPERM)
			_exit(4);
		q = (struct xpoll_params){ .busy_poll_budget = 64,
					   .busy_poll_usecs = 0x7fffffff };
		_exit(ioctl(y, XPOLL_IOC_SET_PARAMS, &q) ? 3 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	if (geteuid() == 0) {
		p = (struct xpoll_params){ .busy_poll_budget = 65 };
		EXPECT_EQ(0, ioctl(x, XPOLL_IOC_SET_PARAMS, &p));
	}
	close(x);
}

XP_NO_HOOK
XP_MAIN
