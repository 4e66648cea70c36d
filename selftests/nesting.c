// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 6: nesting.  An instance inside another instance (every
 * combination of epoll and xpoll, epoll-in-epoll as the reference), in
 * poll() and select(); cycles refused with ELOOP; the depth bound the
 * same as epoll's; mixed epoll/xpoll loops never recurse without bound.
 */
#include "xp_test.h"
#include <sched.h>
#include <sys/resource.h>
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

/* ---- fan-out through layers, and the close of a much-watched child ---- */

/*
 * Both scenarios are run by an unprivileged attacker (uid 65534, a fork
 * child) while a canary of another user (the test process, root) checks
 * that it is not held up: the attacker's work must stay its own.
 */
FIXTURE(fanout) { int be; };
XP_BACKENDS(fanout);

FIXTURE_SETUP(fanout)
{
	XP_REQUIRE(variant->be);
	self->be = variant->be;
}

FIXTURE_TEARDOWN(fanout)
{
}

/* Pin the calling thread to @cpu; 0 or -errno. */
static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* A CPU of the caller's affinity other than @cpu, or -1. */
static int other_cpu(int cpu)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (i != cpu && CPU_ISSET(i, &set))
			return i;
	return -1;
}

#define FAN_W		20
#define FAN_LAYERS	5
#define FAN_WATCHES	(FAN_W + (FAN_LAYERS - 1) * FAN_W * FAN_W)

/* What the attacker reports (a shared page). */
struct fan_report {
	int step;		/* last step reached, for a failing child */
	int refused_layer;	/* 1-based layer of the first refused ADD, 0: none */
	int adds;		/* ADDs that succeeded */
	int err;		/* -errno of the refused ADD */
	int ntop;		/* instances without a parent: polled */
	int poll_ret;		/* the poller thread's poll() */
	int top_events;		/* wait with timeout 0 on one top instance */
	int writing;		/* 1: write() in progress, 2: returned */
	int poller_cpu;		/* where the poller thread runs, -1: anywhere */
	int64_t write_ns;
	int64_t poll_ns;	/* from the write() to the poller's return */
};

struct fan_poller {
	struct pollfd *p;
	int n, ret, cpu;
	pid_t tid;
	int64_t done;
};

/*
 * Polls the top instances, on another CPU than the attacker's if there
 * is one, and at idle priority: its return, in process context, is not
 * the write()'s work, so it should not run in the middle of it (the
 * debug guest has one CPU).
 */
static void *fan_poll_fn(void *arg)
{
	struct sched_param sp = { 0 };
	struct fan_poller *fp = arg;

	if (fp->cpu >= 0)
		pin_to(fp->cpu);
	sched_setscheduler(0, SCHED_IDLE, &sp);
	__atomic_store_n(&fp->tid, gettid_(), __ATOMIC_RELEASE);
	fp->ret = poll(fp->p, fp->n, 20000);
	fp->done = now_ns();
	return NULL;
}

/*
 * The attacker: FAN_LAYERS layers of FAN_W instances, the bottom layer
 * watching one eventfd, every other instance watching every instance of
 * the layer below (FAN_W + 4 FAN_W^2 watches); the first refused ADD
 * ends the building.  The instances nobody watches are polled by a
 * thread, so every instance has a poller and wakeups go all the way up;
 * then one write() to the eventfd, timed.  Exit 0 when it got that far.
 */
static int fan_attacker(int be, struct fan_report *r, int ready_w, int go_r)
{
	static int in[FAN_LAYERS][FAN_W];
	static bool parent[FAN_LAYERS][FAN_W];
	struct pollfd pfd[FAN_LAYERS * FAN_W];
	struct fan_poller fp = { .p = pfd, .cpu = r->poller_cpu };
	struct epoll_event ev[64];
	int efd, nl = 0, top = -1, err = 0;
	uint64_t one = 1;
	pthread_t th;
	int64_t t0;
	char c;

	r->step = 1;
	if (xp_drop_privs(XP_NOBODY))
		return 1;
	r->step = 2;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return 2;
	for (int l = 0; l < FAN_LAYERS && !err; l++) {
		for (int i = 0; i < FAN_W && !err; i++) {
			in[l][i] = pl_create(be, 1);
			if (in[l][i] < 0)
				return 3;
			nl = l + 1;
			if (l == 0) {
				err = pl_ctl(be, in[0][i], EPOLL_CTL_ADD, efd,
					     EPOLLIN, 0);
				r->adds += !err;
				continue;
			}
			for (int j = 0; j < FAN_W && !err; j++) {
				err = pl_ctl(be, in[l][i], EPOLL_CTL_ADD,
					     in[l - 1][j], EPOLLIN, j);
				if (!err) {
					r->adds++;
					parent[l - 1][j] = true;
				}
			}
		}
		if (err) {
			/* the refused instance stays, with what it got */
			r->refused_layer = l + 1;
			r->err = err;
		}
	}
	/* the instances without a parent: the top layer (or, when refused,
	 * the partial layer and what it did not reach below) */
	for (int l = 0; l < nl; l++)
		for (int i = 0; i < FAN_W; i++) {
			if (l == nl - 1 && in[l][i] <= 0)
				break;
			if (parent[l][i])
				continue;
			if (top < 0)
				top = in[l][i];
			pfd[fp.n].fd = in[l][i];
			pfd[fp.n++].events = POLLIN;
		}
	r->ntop = fp.n;
	r->step = 4;
	if (pthread_create(&th, NULL, fan_poll_fn, &fp))
		return 4;
	while (!__atomic_load_n(&fp.tid, __ATOMIC_ACQUIRE))
		msleep(1);
	if (!wait_sleeping(fp.tid, 5000))
		return 5;
	r->step = 6;
	/* the canary spins from here on */
	if (write(ready_w, "r", 1) != 1 || read(go_r, &c, 1) != 1)
		return 6;
	__atomic_store_n(&r->writing, 1, __ATOMIC_SEQ_CST);
	t0 = now_ns();
	if (write(efd, &one, 8) != 8)
		return 7;
	r->write_ns = now_ns() - t0;
	__atomic_store_n(&r->writing, 2, __ATOMIC_SEQ_CST);
	r->step = 8;
	if (read(go_r, &c, 1) != 1)	/* the canary has seen it */
		return 8;
	pthread_join(th, NULL);
	r->poll_ret = fp.ret;
	r->poll_ns = fp.done - t0;
	r->top_events = pl_wait(be, top, ev, 64, 0, NULL);
	r->step = 9;
	return 0;
}

/*
 * Layered fan-out as nobody.  epoll refuses the structure (its limits on
 * wakeup paths, EINVAL).  xpoll may refuse it the same way, or accept it
 * and then wake each instance's pollers once per level, not once per path
 * (W^5 callbacks with interrupts off: 0.7-1.1 s for W=20 on the module
 * before 1110bb7, distro guest); either way the write() is cheap.
 * The canary, root, pinned to the attacker's CPU, spins on the clock
 * during the write(): the largest gap it sees is how long that CPU was
 * taken from it.
 */
TEST_F_TIMEOUT(fanout, layered_fanout_as_nobody, 300)
{
	struct fan_report *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2], go[2], status, cpu, w = 0;
	int64_t last, t, end, gap = 0;
	pid_t pid;
	char c;

	ASSERT_NE(MAP_FAILED, r);
	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	signal(SIGPIPE, SIG_IGN);	/* an attacker that died: EPIPE */
	/* the attacker inherits the canary's CPU; its poller goes elsewhere */
	cpu = sched_getcpu();
	ASSERT_LE(0, cpu);
	r->poller_cpu = other_cpu(cpu);
	ASSERT_EQ(0, pin_to(cpu));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		_exit(fan_attacker(self->be, r, ready[1], go[0]));
	}
	close(ready[1]);
	close(go[0]);
	/*
	 * The canary: wait for the attacker's structure, then spin until
	 * the write() has returned.  The attacker may take the CPU as soon
	 * as it is told to go: the clock runs from before that.
	 */
	if (read(ready[0], &c, 1) == 1 && (last = now_ns()) &&
	    write(go[1], "g", 1) == 1) {
		end = last + 30 * 1000000000LL;
		while (w != 2 && last < end) {
			w = __atomic_load_n(&r->writing, __ATOMIC_SEQ_CST);
			t = now_ns();
			if (t - last > gap)
				gap = t - last;
			last = t;
		}
		/* the attacker goes on (and exits) only now */
		if (write(go[1], "d", 1) != 1)
			w = -1;
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("%s: W=%d, %d layers, %d of %d watches added, refused at layer %d (%d); "
	       "%d top instances polled (cpu %d); write() %" PRId64 " ns; poll %d "
	       "after %" PRId64 " ns, top wait %d; canary (root, cpu %d) max gap %"
	       PRId64 " ns",
	       be_name[self->be], FAN_W, FAN_LAYERS, r->adds, FAN_WATCHES,
	       r->refused_layer, r->err, r->ntop, r->poller_cpu, r->write_ns,
	       r->poll_ret, r->poll_ns, r->top_events, cpu, gap);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("attacker status %#x at step %d", status, r->step);
	ASSERT_EQ(2, w) TH_LOG("the canary gave up waiting for the write()");
	if (self->be == BE_EPOLL || r->refused_layer) {
		/* epoll's reverse_path_check: too many wakeup paths (xpoll
		 * has the same limits since 8fa76f4) */
		EXPECT_LT(1, r->refused_layer);
		EXPECT_EQ(-EINVAL, r->err);
	} else {
		/* accepted: the write() wakes each instance once */
		EXPECT_EQ(FAN_WATCHES, r->adds);
		EXPECT_EQ(FAN_W, r->ntop);
		EXPECT_LE(1, r->poll_ret);
		EXPECT_LE(1, r->top_events);
	}
	if (self->be == BE_XPOLL)
		EXPECT_GT(50 * 1000000LL, r->write_ns);
	EXPECT_GT(100 * 1000000LL, gap);
	munmap(r, sizeof(*r));
}

#define CL_M	64	/* parent instances */
#define CL_K	64	/* dup()s of the child, each in every parent */

struct close_report {
	int step, left, err;
	int64_t final_close_ns, all_close_ns;
};

/*
 * The attacker of the second test: a child instance C, CL_M parents each
 * watching C through CL_K dup()s of its descriptor (CL_M * CL_K items),
 * then every descriptor of C closed; it says so on @sync_w just before the
 * last close.  C watches nothing: a file inside it would have CL_M * CL_K
 * wakeup paths, which epoll refuses (EINVAL).
 */
static int close_attacker(int be, struct close_report *r, int sync_w)
{
	static int d[CL_K], p[CL_M];
	struct rlimit rl = { CL_K + CL_M + 64, CL_K + CL_M + 64 };
	int c;
	int64_t t0, t1;

	r->step = 1;
	if (setrlimit(RLIMIT_NOFILE, &rl) || xp_drop_privs(XP_NOBODY))
		return 1;
	r->step = 2;
	c = pl_create(be, 1);
	if (c < 0)
		return 2;
	for (int k = 0; k < CL_K; k++)
		if ((d[k] = dup(c)) < 0)
			return 3;
	r->step = 4;
	for (int m = 0; m < CL_M; m++) {
		if ((p[m] = pl_create(be, 1)) < 0)
			return 4;
		for (int k = 0; k < CL_K; k++)
			if ((r->err = pl_ctl(be, p[m], EPOLL_CTL_ADD, d[k],
					     EPOLLIN, k)))
				return 5;
	}
	r->step = 6;
	t0 = now_ns();
	close(c);
	for (int k = 0; k < CL_K - 1; k++)
		close(d[k]);
	if (write(sync_w, "c", 1) != 1)
		return 6;
	t1 = now_ns();
	close(d[CL_K - 1]);
	r->final_close_ns = now_ns() - t1;
	r->all_close_ns = now_ns() - t0;
	r->step = 7;
	for (int m = 0; m < CL_M; m++)
		r->left += fdinfo_items(p[m]);
	for (int m = 0; m < CL_M; m++)
		close(p[m]);
	r->step = 8;
	return 0;
}

/*
 * Nested child closed with many items: the attacker's last close of C
 * removes CL_M * CL_K items; meanwhile the canary (root, another
 * process) closes a watched socket without DEL, and its peer must see
 * EOF within 100 ms: the attacker's removal holds up nobody else (the
 * module before 1110bb7 left it to a global reaper: up to 117 ms for EOF,
 * and a linear search under a global mutex).  epoll of 6.1 does hold the
 * canary up, for as long as the attacker's removal (see below).
 */
TEST_F_TIMEOUT(fanout, nested_child_closed_canary_eof, 300)
{
	struct close_report *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int sync[2], sv[2], cp, status, got = -1, eof = 0, at_once = 0;
	struct pollfd sp = { .events = POLLIN };
	int64_t t0, close_ns = -1, eof_ns = -1;
	pid_t pid;
	char c;

	ASSERT_NE(MAP_FAILED, r);
	ASSERT_EQ(0, pipe2(sync, O_CLOEXEC));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	cp = pl_create(self->be, 1);
	ASSERT_LE(0, cp);
	ASSERT_EQ(0, pl_ctl(self->be, cp, EPOLL_CTL_ADD, sv[0], EPOLLIN, 1));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* the canary's socket and instance are not the attacker's */
		close(sv[0]);
		close(sv[1]);
		close(cp);
		close(sync[0]);
		_exit(close_attacker(self->be, r, sync[1]));
	}
	close(sync[1]);
	/* the canary: at the attacker's last close, close the socket */
	sp.fd = sync[0];
	if (poll(&sp, 1, 120000) == 1 && (got = read(sync[0], &c, 1)) == 1) {
		t0 = now_ns();
		close(sv[0]);
		close_ns = now_ns() - t0;
		eof = at_once = recv(sv[1], &c, 1, MSG_DONTWAIT) == 0;
		sp.fd = sv[1];
		if (!eof && poll(&sp, 1, 5000) == 1)
			eof = recv(sv[1], &c, 1, MSG_DONTWAIT) == 0;
		eof_ns = now_ns() - t0;
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("%s: %d parents x %d dups of the child = %d items; final close "
	       "%" PRId64 " ns (all %" PRId64 " ns), %d items left after it; "
	       "canary (root): close() %" PRId64 " ns, EOF %s after %" PRId64 " ns",
	       be_name[self->be], CL_M, CL_K, CL_M * CL_K, r->final_close_ns,
	       r->all_close_ns, r->left, close_ns,
	       at_once ? "at once" : eof ? "after a poll" : "NOT seen", eof_ns);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("attacker status %#x at step %d (%d)", status, r->step,
		       r->err);
	ASSERT_EQ(1, got) TH_LOG("no signal from the attacker");
	EXPECT_EQ(0, r->left);
	EXPECT_TRUE(eof);
	if (self->be == BE_EPOLL) {
		/*
		 * epoll of Linux 6.1 removes a closed file's items under one
		 * global mutex (epmutex, eventpoll_release_file()): the
		 * canary's close may wait for the attacker's whole removal
		 * (up to 0.3 s in the debug guest), not longer.
		 */
		EXPECT_GT(100 * 1000000LL + r->final_close_ns, eof_ns);
	} else {
		EXPECT_GT(100 * 1000000LL, eof_ns);
	}
	close(sv[1]);
	close(sync[0]);
	close(cp);
	munmap(r, sizeof(*r));
}

/*
 * Pins a known difference (README): an instance polled from outside
 * (poll(), select(), epoll) answers for an epoll target from the ready
 * list, without re-polling it, where an epoll instance re-polls its epoll
 * target.  Leaf eventfd in epoll E, E in the outer instance, the leaf
 * written and drained again: poll() of an outer epoll says not ready, of
 * an outer xpoll ready (a spurious readiness, never a lost one); a wait
 * on the outer xpoll re-polls E and reports nothing.
 */
TEST(outer_poll_of_epoll_target_answers_from_ready_list)
{
	int got[2];

	XP_REQUIRE(BE_XPOLL);
	for (int be = BE_EPOLL; be <= BE_XPOLL; be++) {
		struct epoll_event ev[4];
		int e = epoll_create1(EPOLL_CLOEXEC), o = pl_create(be, 1);
		int leaf = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event lev = { .events = EPOLLIN };
		struct pollfd p = { .fd = o, .events = POLLIN };

		ASSERT_LE(0, e);
		ASSERT_LE(0, o);
		ASSERT_EQ(0, epoll_ctl(e, EPOLL_CTL_ADD, leaf, &lev));
		ASSERT_EQ(0, pl_ctl(be, o, EPOLL_CTL_ADD, e, EPOLLIN, 1));
		bump(leaf);
		drain(leaf);
		got[be] = poll(&p, 1, 0);
		TH_LOG("%s outer: poll() says %d", be_name[be], got[be]);
		EXPECT_EQ(0, pl_poll0(be, o, ev));
		close(leaf);
		close(o);
		close(e);
	}
	EXPECT_EQ(0, got[BE_EPOLL]);
	EXPECT_EQ(1, got[BE_XPOLL]);
}

XP_NO_HOOK
XP_MAIN
