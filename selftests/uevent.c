// SPDX-License-Identifier: GPL-2.0
/*
 * User events (XPOLL_FEAT_USER_EVENTS, XPOLL_CTL_USER): every rule of the
 * comment above XPOLL_USER_BITS in uapi/linux/xpoll.h.
 *
 *  - sem: the semantics, each scenario run side by side on an eventfd
 *    watched by epoll (TRIGGER = write(efd, 1), CLEAR = read(efd),
 *    interest EPOLLIN) and on a user event, asserting what epoll does with
 *    the eventfd; both as root and as uid 65534 (variants root / nobody).
 *    What an eventfd cannot show (interest filtering, ERR/HUP, pending
 *    bits) is checked on xpoll alone, from the contract.
 *  - err: every errno of ADD / MOD / DEL / TRIGGER / CLEAR, the same
 *    through XPOLL_IOC_CTL_BATCH, the key space, 64-bit keys, the
 *    EPOLLEXCLUSIVE rules against epoll's for a file.
 *  - one test each: a trigger from another instance's XPOLL_IOC_CTL_WAIT
 *    wakes a thread blocked on that instance; a trigger does not wait for
 *    a wait stalled holding the instance's mutex; the watch limit;
 *    fdinfo; nesting in xpoll and epoll; release of 10,000 user events;
 *    triggers racing DEL and close.
 */
#include "xp_test.h"
#include <regex.h>
#include <stddef.h>

#define XPOLL_LIMIT "/sys/module/xpoll/parameters/max_user_watches"
#define ERRHUP (EPOLLERR | EPOLLHUP)
#define EFD_FLAGS (EFD_NONBLOCK | EFD_CLOEXEC)
#define XP_EPOLLNVAL 0x20u	/* the kernel's EPOLLNVAL; not in <sys/epoll.h> */

_Static_assert(sizeof(struct xpoll_ctl) == 40, "struct xpoll_ctl is 40 bytes");
_Static_assert(offsetof(struct xpoll_ctl, data) == 16, "data at 16");
_Static_assert(offsetof(struct xpoll_ctl, key) == 24, "key at 24");
_Static_assert(offsetof(struct xpoll_ctl, reserved) == 32, "reserved at 32");

/* ---- raw calls: 0 / count, or -errno ---- */

static int uctl(int x, uint32_t op, int fd, uint32_t flags, uint64_t key,
		uint32_t events, uint64_t data, uint64_t rsv)
{
	struct xpoll_ctl c = {
		.op = op, .fd = fd, .events = events, .flags = flags,
		.data = data, .key = key, .reserved = rsv,
	};

	return ioctl(x, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

static int u_add(int x, uint64_t key, uint32_t ev, uint64_t d)
{
	return uctl(x, XPOLL_CTL_ADD, -1, XPOLL_CTL_USER, key, ev, d, 0);
}

static int u_mod(int x, uint64_t key, uint32_t ev, uint64_t d)
{
	return uctl(x, XPOLL_CTL_MOD, -1, XPOLL_CTL_USER, key, ev, d, 0);
}

static int u_del(int x, uint64_t key)
{
	return uctl(x, XPOLL_CTL_DEL, -1, XPOLL_CTL_USER, key, 0, 0, 0);
}

/* TRIGGER through instance @x: @fd -1 for @x's own event, or another's. */
static int u_trig(int x, int fd, uint64_t key, uint32_t ev)
{
	return uctl(x, XPOLL_CTL_TRIGGER, fd, XPOLL_CTL_USER, key, ev, 0, 0);
}

static int u_clear(int x, int fd, uint64_t key, uint32_t ev)
{
	return uctl(x, XPOLL_CTL_CLEAR, fd, XPOLL_CTL_USER, key, ev, 0, 0);
}

/* The same change as a batch of one: its result. */
static int batch1(int x, const struct xpoll_ctl *c)
{
	int32_t res = 12345;
	struct xpoll_ctl_batch b = { .ctls = (uintptr_t)c,
				     .results = (uintptr_t)&res, .nr = 1 };
	int r = ioctl(x, XPOLL_IOC_CTL_BATCH, &b);

	return r == 1 ? res : r < 0 ? -10000 - errno : -20000 - r;
}

/* @n changes of @op on keys key0, key0 + 1, ... in batches of up to 1024. */
static int batch_user(int x, uint32_t op, uint64_t key0, int n, uint32_t ev)
{
	static struct xpoll_ctl c[XPOLL_CTL_BATCH_MAX];
	static int32_t res[XPOLL_CTL_BATCH_MAX];

	for (int done = 0; done < n;) {
		int k = n - done < XPOLL_CTL_BATCH_MAX ? n - done : XPOLL_CTL_BATCH_MAX;
		struct xpoll_ctl_batch b = { .ctls = (uintptr_t)c,
					     .results = (uintptr_t)res, .nr = k };
		int r;

		for (int i = 0; i < k; i++) {
			uint64_t key = key0 + done + i;

			c[i] = (struct xpoll_ctl){ .op = op, .fd = -1,
				.flags = XPOLL_CTL_USER, .key = key, .events = ev,
				.data = op == XPOLL_CTL_ADD || op == XPOLL_CTL_MOD ?
					key : 0 };
		}
		r = ioctl(x, XPOLL_IOC_CTL_BATCH, &b);
		if (r != k)
			return r < 0 ? -errno : -EPROTO;
		for (int i = 0; i < k; i++)
			if (res[i])
				return res[i];
		done += k;
	}
	return 0;
}

static int ctl_wait(int x, const struct xpoll_ctl *c, int32_t *res,
		    uint32_t nr, uint32_t *done, struct epoll_event *ev,
		    int max, int64_t ns)
{
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = nr,
		.nr_done = 12345,
		.wait = { .events = (uintptr_t)ev, .maxevents = max,
			  .timeout_ns = ns },
	};
	int r = ioctl(x, XPOLL_IOC_CTL_WAIT, &cw);

	if (done)
		*done = cw.nr_done;
	return r < 0 ? -errno : r;
}

static bool uev_feature(void)
{
	struct xpoll_version v = { 0 };
	int x = xp_open(O_CLOEXEC);
	bool ok;

	if (x < 0)
		return false;
	ok = !ioctl(x, XPOLL_IOC_VERSION, &v) &&
	     (v.features & XPOLL_FEAT_USER_EVENTS);
	close(x);
	return ok;
}

#define UEV_REQUIRE() do { \
	XP_REQUIRE(BE_XPOLL); \
	ASSERT_TRUE(uev_feature()) \
		TH_LOG("XPOLL_IOC_VERSION does not report XPOLL_FEAT_USER_EVENTS"); \
} while (0)

/* One wait with timeout 0 on @p: its count, events in ev[0..16). */
static int wait0(int be, int p, struct epoll_event *ev)
{
	return pl_wait(be, p, ev, 16, 0, NULL);
}

/* ---- uev lines of fdinfo ---- */

struct uev_line {
	unsigned long long key, data;
	unsigned int events, pending;
};

/*
 * The "uev:" lines of /proc/self/fdinfo/<p>: their number, or -EPROTO if
 * one is not "uev: <hex> events: <hex> data: <hex> pending: <hex>".
 */
static int uev_parse(int p, struct uev_line *u, int max)
{
	char path[64], line[512];
	regex_t re;
	int n = 0;
	FILE *f;

	/* The statistics (feature bit 13) end the line: see stats.c. */
	if (regcomp(&re, "^uev: *[0-9a-f]+ events: *[0-9a-f]+ data: *[0-9a-f]+"
		    " pending: *[0-9a-f]+ reported: [0-9]+ last_ms: -?[0-9]+$",
		    REG_EXTENDED | REG_NOSUB))
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", p);
	f = fopen(path, "re");
	if (!f) {
		regfree(&re);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct uev_line x = { 0 };

		if (strncmp(line, "uev:", 4))
			continue;
		line[strcspn(line, "\n")] = 0;
		if (regexec(&re, line, 0, NULL, 0) ||
		    sscanf(line, "uev: %llx events: %x data: %llx pending: %x",
			   &x.key, &x.events, &x.data, &x.pending) != 4) {
			fprintf(stderr, "# unexpected fdinfo line: \"%s\"\n", line);
			n = -EPROTO;
			break;
		}
		if (n < max)
			u[n] = x;
		n++;
	}
	fclose(f);
	regfree(&re);
	return n;
}

static const struct uev_line *uev_find(const struct uev_line *u, int n,
				       unsigned long long key)
{
	for (int i = 0; i < n; i++)
		if (u[i].key == key)
			return &u[i];
	return NULL;
}

/*
 * fdinfo's interest of a user event: its ADD/MOD bits, with or without
 * EPOLLERR | EPOLLHUP (epoll lists a file's with them; the uapi does not
 * say), nothing else.
 */
static bool interest_is(unsigned int listed, uint32_t set)
{
	return (listed & ~ERRHUP) == (set & ~ERRHUP) &&
	       ((listed & ERRHUP) == 0 || (listed & ERRHUP) == ERRHUP ||
		(listed & ERRHUP) == (set & ERRHUP));
}

/* ==== sem: an eventfd on epoll and a user event, side by side ==== */

struct side {
	int be, p, efd;
	uint64_t key;
};

static int s_add(struct side *s, uint32_t ev, uint64_t d)
{
	if (s->be == BE_EPOLL)
		return pl_ctl(BE_EPOLL, s->p, EPOLL_CTL_ADD, s->efd, ev, d);
	return u_add(s->p, s->key, ev, d);
}

static int s_mod(struct side *s, uint32_t ev, uint64_t d)
{
	if (s->be == BE_EPOLL)
		return pl_ctl(BE_EPOLL, s->p, EPOLL_CTL_MOD, s->efd, ev, d);
	return u_mod(s->p, s->key, ev, d);
}

static int s_del(struct side *s)
{
	if (s->be == BE_EPOLL)
		return pl_ctl(BE_EPOLL, s->p, EPOLL_CTL_DEL, s->efd, 0, 0);
	return u_del(s->p, s->key);
}

/* TRIGGER: the eventfd's write of 1. */
static int s_trig(struct side *s)
{
	uint64_t one = 1;

	if (s->be == BE_EPOLL)
		return write(s->efd, &one, 8) == 8 ? 0 : -errno;
	return u_trig(s->p, -1, s->key, EPOLLIN);
}

/* CLEAR: the eventfd's read (of nothing: EAGAIN, which is no error). */
static int s_clear(struct side *s)
{
	uint64_t v;

	if (s->be == BE_EPOLL)
		return read(s->efd, &v, 8) == 8 || errno == EAGAIN ? 0 : -errno;
	return u_clear(s->p, -1, s->key, EPOLLIN);
}

FIXTURE(sem) {
	struct side s[2];
};
FIXTURE_VARIANT(sem) { bool nobody; };
FIXTURE_VARIANT_ADD(sem, root) { .nobody = false };
FIXTURE_VARIANT_ADD(sem, nobody) { .nobody = true };

FIXTURE_SETUP(sem)
{
	UEV_REQUIRE();
	if (variant->nobody && geteuid() == 0) {
		ASSERT_EQ(0, xp_drop_privs(XP_NOBODY));
	}
	if (variant->nobody) {
		ASSERT_NE(0, geteuid());
	}
	self->s[BE_EPOLL] = (struct side){ .be = BE_EPOLL,
		.p = epoll_create1(EPOLL_CLOEXEC), .efd = eventfd(0, EFD_FLAGS) };
	self->s[BE_XPOLL] = (struct side){ .be = BE_XPOLL,
		.p = xp_open(O_CLOEXEC), .efd = -1, .key = 0x5eed00000007ULL };
	ASSERT_LE(0, self->s[BE_EPOLL].p);
	ASSERT_LE(0, self->s[BE_EPOLL].efd);
	ASSERT_LE(0, self->s[BE_XPOLL].p) TH_LOG("open %s: %s", XPOLL_DEVICE,
						 strerror(errno));
}

FIXTURE_TEARDOWN(sem)
{
	for (int be = 0; be < 2; be++) {
		close(self->s[be].p);
		if (self->s[be].efd >= 0)
			close(self->s[be].efd);
	}
}

#define SIDES(s) for (struct side *s = &self->s[0]; s <= &self->s[1]; s++)

/* One wait (timeout 0): @n_ events; for n_ == 1 its events and data. */
#define EXPECT_REPORT(s, n_, ev_, d_) do { \
	struct epoll_event _e[16]; \
	int _n = wait0((s)->be, (s)->p, _e); \
	ASSERT_EQ((n_), _n) TH_LOG("%s, line %d: %d event(s), expected %d", \
				  be_name[(s)->be], __LINE__, _n, (n_)); \
	if (_n == 1) { \
		EXPECT_EQ((uint32_t)(ev_), _e[0].events) \
			TH_LOG("%s, line %d: events %#x", be_name[(s)->be], \
			       __LINE__, _e[0].events); \
		EXPECT_EQ((uint64_t)(d_), (uint64_t)_e[0].data.u64) \
			TH_LOG("%s, line %d: data %#llx", be_name[(s)->be], \
			       __LINE__, (unsigned long long)_e[0].data.u64); \
	} \
} while (0)

#define OK(s, call) ASSERT_EQ(0, call) \
	TH_LOG("%s, line %d: %s", be_name[(s)->be], __LINE__, #call)

/* Level-triggered: reported at every wait until CLEARed. */
TEST_F(sem, level_reported_until_cleared)
{
	SIDES(s) {
		OK(s, s_add(s, EPOLLIN, 0x11));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_trig(s));
		for (int i = 0; i < 3; i++) {
			EXPECT_REPORT(s, 1, EPOLLIN, 0x11);
		}
		OK(s, s_trig(s));	/* pending already: one item, one event */
		EXPECT_REPORT(s, 1, EPOLLIN, 0x11);
		OK(s, s_clear(s));
		EXPECT_REPORT(s, 0, 0, 0);
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_clear(s));	/* clearing nothing is no error */
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 0x11);
		EXPECT_REPORT(s, 1, EPOLLIN, 0x11);
	}
}

/* EPOLLET: once per trigger, pending or not; CLEAR queues nothing. */
TEST_F(sem, edge_reported_once_per_trigger)
{
	SIDES(s) {
		OK(s, s_add(s, EPOLLIN | EPOLLET, 0x22));
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 0x22);
		EXPECT_REPORT(s, 0, 0, 0);
		/* a second trigger with a wait between: a second report */
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 0x22);
		EXPECT_REPORT(s, 0, 0, 0);
		/* two triggers, then one wait: one report */
		OK(s, s_trig(s));
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 0x22);
		EXPECT_REPORT(s, 0, 0, 0);
		/* CLEAR queues nothing */
		OK(s, s_clear(s));
		EXPECT_REPORT(s, 0, 0, 0);
		/* a wait reports pending & interest: cleared before it, none */
		OK(s, s_trig(s));
		OK(s, s_clear(s));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 0x22);
		EXPECT_REPORT(s, 0, 0, 0);
	}
}

/* EPOLLONESHOT: disarmed once reported; a trigger then is kept for MOD. */
TEST_F(sem, oneshot_disarmed_until_mod)
{
	SIDES(s) {
		OK(s, s_add(s, EPOLLIN | EPOLLONESHOT, 1));
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 1);
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_trig(s));	/* disarmed: 0, nothing reported */
		EXPECT_REPORT(s, 0, 0, 0);
		/* cleared while disarmed: the re-arm finds nothing */
		OK(s, s_clear(s));
		OK(s, s_mod(s, EPOLLIN | EPOLLONESHOT, 2));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 2);
		OK(s, s_trig(s));	/* recorded while disarmed ... */
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_mod(s, EPOLLIN | EPOLLONESHOT, 3));
		EXPECT_REPORT(s, 1, EPOLLIN, 3);	/* ... reported at MOD */
		EXPECT_REPORT(s, 0, 0, 0);
		/* back to level-triggered: still pending */
		OK(s, s_mod(s, EPOLLIN, 4));
		EXPECT_REPORT(s, 1, EPOLLIN, 4);
		EXPECT_REPORT(s, 1, EPOLLIN, 4);
		/* one-shot and edge-triggered */
		OK(s, s_clear(s));
		OK(s, s_mod(s, EPOLLIN | EPOLLET | EPOLLONESHOT, 5));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_trig(s));
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 5);
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_mod(s, EPOLLIN | EPOLLET | EPOLLONESHOT, 6));
		EXPECT_REPORT(s, 1, EPOLLIN, 6);
		EXPECT_REPORT(s, 0, 0, 0);
	}
}

/* MOD replaces interest and data and keeps the pending bits. */
TEST_F(sem, mod_keeps_pending_bits)
{
	SIDES(s) {
		OK(s, s_add(s, EPOLLIN | EPOLLET, 1));
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 1);
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_mod(s, EPOLLIN | EPOLLET, 2));	/* re-polled: pending */
		EXPECT_REPORT(s, 1, EPOLLIN, 2);
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_mod(s, EPOLLIN, 3));
		EXPECT_REPORT(s, 1, EPOLLIN, 3);
		EXPECT_REPORT(s, 1, EPOLLIN, 3);
		OK(s, s_clear(s));
		OK(s, s_mod(s, EPOLLIN | EPOLLET, 4));
		EXPECT_REPORT(s, 0, 0, 0);
		/* DEL, then ADD: the eventfd was drained, the event is new */
		OK(s, s_del(s));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_add(s, EPOLLIN, 5));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 5);
	}
}

/* The data reported is ADD's or MOD's, whole, never the pending bits. */
TEST_F(sem, data_is_the_add_or_mod_data)
{
	static const uint64_t d[] = { 0xfedcba9876543210ULL, 0, ~0ULL,
				      0x8000000000000001ULL, EPOLLIN };

	SIDES(s) {
		OK(s, s_add(s, EPOLLIN, d[0]));
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, d[0]);
		for (int i = 1; i < 5; i++) {
			OK(s, s_mod(s, EPOLLIN, d[i]));
			EXPECT_REPORT(s, 1, EPOLLIN, d[i]);
		}
	}
}

/* EPOLLEXCLUSIVE is accepted at ADD and changes nothing else. */
TEST_F(sem, exclusive_changes_nothing_else)
{
	SIDES(s) {
		OK(s, s_add(s, EPOLLIN | EPOLLEXCLUSIVE, 7));
		EXPECT_REPORT(s, 0, 0, 0);
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 7);
		EXPECT_REPORT(s, 1, EPOLLIN, 7);
		OK(s, s_clear(s));
		EXPECT_REPORT(s, 0, 0, 0);
		ASSERT_EQ(-EINVAL, s_mod(s, EPOLLIN, 8)) TH_LOG("%s", be_name[s->be]);
		OK(s, s_del(s));
		OK(s, s_add(s, EPOLLIN | EPOLLET | EPOLLEXCLUSIVE, 9));
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 9);
		EXPECT_REPORT(s, 0, 0, 0);
	}
}

struct waiter {
	int be, p;
	int64_t timeout_ns;
	struct epoll_event ev[4];
	int ret;
	int64_t done_ns;
	pid_t tid;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, gettid_(), __ATOMIC_RELEASE);
	w->ret = pl_wait(w->be, w->p, w->ev, 4, w->timeout_ns, NULL);
	w->done_ns = now_ns();
	return NULL;
}

static bool waiter_sleeping(struct waiter *w, int ms)
{
	for (int i = 0; i < ms; i++) {
		pid_t tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);

		if (tid)
			return wait_sleeping(tid, ms);
		msleep(1);
	}
	return false;
}

/*
 * A thread blocked in a wait wakes on a trigger from another thread; a
 * trigger its interest does not share (xpoll) or one of a disarmed
 * one-shot event (both) does not wake it.
 */
TEST_F(sem, blocked_waiter_woken_by_trigger_of_another_thread)
{
	SIDES(s) {
		struct waiter w = { .be = s->be, .p = s->p,
				    .timeout_ns = 5000000000LL };
		pthread_t t;
		int64_t t0;

		OK(s, s_add(s, EPOLLIN | EPOLLONESHOT, 0x77));
		ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
		ASSERT_TRUE(waiter_sleeping(&w, 2000));
		t0 = now_ns();
		OK(s, s_trig(s));
		ASSERT_EQ(0, pthread_join(t, NULL));
		EXPECT_EQ(1, w.ret) TH_LOG("%s: %d", be_name[s->be], w.ret);
		EXPECT_EQ(0x77, w.ev[0].data.u64);
		EXPECT_EQ(EPOLLIN, w.ev[0].events);
		EXPECT_GT(1000000000LL, w.done_ns - t0)
			TH_LOG("%s: woken %" PRId64 " ms after the trigger",
			       be_name[s->be], (w.done_ns - t0) / 1000000);
		/* disarmed now: a trigger wakes nobody */
		w = (struct waiter){ .be = s->be, .p = s->p,
				     .timeout_ns = 200000000LL };
		ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
		ASSERT_TRUE(waiter_sleeping(&w, 2000));
		OK(s, s_trig(s));
		ASSERT_EQ(0, pthread_join(t, NULL));
		EXPECT_EQ(0, w.ret) TH_LOG("%s", be_name[s->be]);
	}
	/* xpoll: a trigger of bits outside the interest set wakes nobody */
	struct side *x = &self->s[BE_XPOLL];
	struct waiter w = { .be = BE_XPOLL, .p = x->p, .timeout_ns = 200000000LL };
	pthread_t t;

	ASSERT_EQ(0, u_clear(x->p, -1, x->key, XPOLL_USER_BITS));
	ASSERT_EQ(0, u_mod(x->p, x->key, EPOLLIN, 0x78));
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
	ASSERT_TRUE(waiter_sleeping(&w, 2000));
	ASSERT_EQ(0, u_trig(x->p, -1, x->key, EPOLLOUT | EPOLLPRI));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, w.ret);
}

/*
 * xpoll only (an eventfd shows neither): a wait reports pending & interest,
 * EPOLLERR and EPOLLHUP always of interest; a trigger queues the event
 * only if the interest set shares a bit with the triggered bits.
 */
TEST_F(sem, interest_filters_what_is_reported)
{
	int x = self->s[BE_XPOLL].p;
	struct epoll_event ev[16];

	/* level-triggered, interest EPOLLIN */
	ASSERT_EQ(0, u_add(x, 1, EPOLLIN, 0x10));
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLOUT));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLPRI | EPOLLRDBAND | EPOLLWRNORM | EPOLLMSG));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLERR));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLERR, ev[0].events);
	EXPECT_EQ(0x10, ev[0].data.u64);
	ASSERT_EQ(0, u_clear(x, -1, 1, EPOLLERR));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLHUP));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLHUP, ev[0].events);
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLIN | EPOLLHUP, ev[0].events);
	ASSERT_EQ(0, u_clear(x, -1, 1, XPOLL_USER_BITS));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_del(x, 1));

	/* exactly pending & interest */
	ASSERT_EQ(0, u_add(x, 2, EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLWRBAND, 0x20));
	ASSERT_EQ(0, u_trig(x, -1, 2, EPOLLIN | EPOLLRDNORM | EPOLLPRI |
			    EPOLLRDHUP | EPOLLMSG | EPOLLOUT));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLIN | EPOLLRDNORM | EPOLLRDHUP, ev[0].events);
	ASSERT_EQ(0, u_clear(x, -1, 2, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLRDNORM | EPOLLRDHUP, ev[0].events);
	/* MOD to an interest that meets the pending bits reports them */
	ASSERT_EQ(0, u_mod(x, 2, EPOLLPRI | EPOLLET, 0x21));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLPRI, ev[0].events);
	EXPECT_EQ(0x21, ev[0].data.u64);
	ASSERT_EQ(0, u_del(x, 2));

	/* edge-triggered: only a trigger sharing a bit queues it */
	ASSERT_EQ(0, u_add(x, 3, EPOLLIN | EPOLLET, 0x30));
	ASSERT_EQ(0, u_trig(x, -1, 3, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_trig(x, -1, 3, EPOLLOUT));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_trig(x, -1, 3, EPOLLERR));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLIN | EPOLLERR, ev[0].events);
	ASSERT_EQ(0, u_del(x, 3));

	/* one-shot: a trigger outside the interest does not disarm it */
	ASSERT_EQ(0, u_add(x, 4, EPOLLIN | EPOLLONESHOT, 0x40));
	ASSERT_EQ(0, u_trig(x, -1, 4, EPOLLOUT));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_trig(x, -1, 4, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_del(x, 4));

	/* interest 0: EPOLLERR and EPOLLHUP still reported, as for a file */
	ASSERT_EQ(0, u_add(x, 5, 0, 0x50));
	ASSERT_EQ(0, u_trig(x, -1, 5, EPOLLIN | EPOLLOUT));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_trig(x, -1, 5, EPOLLHUP));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(EPOLLHUP, ev[0].events);
	EXPECT_EQ(0x50, ev[0].data.u64);
}

/* The side's one item as fdinfo lists it: its interest, or -1. */
static int64_t s_listed(struct side *s)
{
	struct fdinfo_item it[4];
	struct uev_line u[4];
	int n;

	if (s->be == BE_EPOLL) {
		n = fdinfo_parse(s->p, it, 4);
		return n == 1 ? it[0].events : -1;
	}
	n = uev_parse(s->p, u, 4);
	return n == 1 && u[0].key == s->key ? u[0].events : -1;
}

/*
 * EPOLLWAKEUP: accepted, kept in the interest set exactly when epoll
 * keeps it for the eventfd (root on a kernel with CONFIG_PM_SLEEP),
 * silently dropped otherwise (uid 65534: no CAP_BLOCK_SUSPEND), never
 * reported as an event bit.
 */
TEST_F(sem, wakeup_bit_as_for_a_file)
{
	int64_t l[2][2];

	SIDES(s) {
		OK(s, s_add(s, EPOLLIN | EPOLLWAKEUP, 1));
		l[s->be][0] = s_listed(s);
		OK(s, s_trig(s));
		EXPECT_REPORT(s, 1, EPOLLIN, 1);
		OK(s, s_mod(s, EPOLLIN | EPOLLET | EPOLLWAKEUP, 2));
		l[s->be][1] = s_listed(s);
		EXPECT_REPORT(s, 1, EPOLLIN, 2);
		EXPECT_REPORT(s, 0, 0, 0);
	}
	for (int i = 0; i < 2; i++) {
		TH_LOG("%s: epoll lists %#" PRIx64 ", xpoll %#" PRIx64,
		       i ? "MOD" : "ADD", l[0][i], l[1][i]);
		ASSERT_LE(0, l[0][i]);
		ASSERT_LE(0, l[1][i]);
		EXPECT_TRUE(interest_is((unsigned int)l[1][i], (uint32_t)l[0][i]));
	}
	if (variant->nobody) {
		EXPECT_EQ(0, l[1][0] & EPOLLWAKEUP);
	}
}

/* Pending is empty at ADD: a trigger before a DEL does not survive it. */
TEST_F(sem, readded_event_starts_empty)
{
	int x = self->s[BE_XPOLL].p;
	struct epoll_event ev[16];

	ASSERT_EQ(0, u_add(x, 9, EPOLLIN, 1));
	ASSERT_EQ(0, u_trig(x, -1, 9, EPOLLIN | EPOLLHUP));
	ASSERT_EQ(0, u_del(x, 9));	/* queued, then deleted: not reported */
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(-ENOENT, u_trig(x, -1, 9, EPOLLIN));
	ASSERT_EQ(0, u_add(x, 9, EPOLLIN, 2));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	ASSERT_EQ(0, u_mod(x, 9, EPOLLIN | EPOLLHUP, 3));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
}

/* ==== err: every errno ==== */

FIXTURE(err) { int x, y, efd, ep, pp[2]; };

FIXTURE_SETUP(err)
{
	UEV_REQUIRE();
	self->x = xp_open(O_CLOEXEC);
	self->y = xp_open(O_CLOEXEC);
	self->efd = eventfd(0, EFD_FLAGS);
	self->ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, self->x);
	ASSERT_LE(0, self->y);
	ASSERT_LE(0, self->efd);
	ASSERT_LE(0, self->ep);
	ASSERT_EQ(0, pipe2(self->pp, O_CLOEXEC | O_NONBLOCK));
}

FIXTURE_TEARDOWN(err)
{
	close(self->x);
	close(self->y);
	close(self->efd);
	close(self->ep);
	close(self->pp[0]);
	close(self->pp[1]);
}

/*
 * A change that must fail with @err and change nothing: through
 * XPOLL_IOC_CTL and through a batch of one, with the same errno.
 */
#define REFUSED(err_, x_, op_, fd_, flags_, key_, ev_, data_, rsv_) do { \
	struct xpoll_ctl _c = { .op = (op_), .fd = (fd_), .flags = (flags_), \
				.key = (key_), .events = (ev_), \
				.data = (data_), .reserved = (rsv_) }; \
	int _r = ioctl((x_), XPOLL_IOC_CTL, &_c) ? -errno : 0; \
	EXPECT_EQ(-(err_), _r) TH_LOG("line %d: op %u fd %d flags %#x key %#llx " \
		"events %#x data %#llx reserved %#llx: %d (%s), expected %s", \
		__LINE__, _c.op, _c.fd, _c.flags, (unsigned long long)_c.key, \
		_c.events, (unsigned long long)_c.data, \
		(unsigned long long)_c.reserved, _r, strerror(-_r), \
		strerror(err_)); \
	_r = batch1((x_), &_c); \
	EXPECT_EQ(-(err_), _r) TH_LOG("line %d: in a batch: %d", __LINE__, _r); \
} while (0)

#define U XPOLL_CTL_USER

TEST_F(err, feature_bit_reported)
{
	struct xpoll_version v = { 0 };

	ASSERT_EQ(0, ioctl(self->x, XPOLL_IOC_VERSION, &v));
	EXPECT_TRUE(v.features & XPOLL_FEAT_USER_EVENTS);
	EXPECT_EQ(XPOLL_ABI_VERSION, v.abi_version);
}

/* EEXIST and ENOENT as for a file. */
TEST_F(err, add_mod_del_eexist_enoent)
{
	int x = self->x;

	REFUSED(ENOENT, x, XPOLL_CTL_MOD, -1, U, 1, EPOLLIN, 0, 0);
	REFUSED(ENOENT, x, XPOLL_CTL_DEL, -1, U, 1, 0, 0, 0);
	ASSERT_EQ(0, u_add(x, 1, EPOLLIN, 1));
	REFUSED(EEXIST, x, XPOLL_CTL_ADD, -1, U, 1, EPOLLIN, 0, 0);
	REFUSED(EEXIST, x, XPOLL_CTL_ADD, -1, U, 1, EPOLLOUT | EPOLLET, 5, 0);
	EXPECT_EQ(0, u_mod(x, 1, EPOLLIN | EPOLLET, 2));
	REFUSED(ENOENT, x, XPOLL_CTL_MOD, -1, U, 2, EPOLLIN, 0, 0);
	EXPECT_EQ(0, u_del(x, 1));
	REFUSED(ENOENT, x, XPOLL_CTL_DEL, -1, U, 1, 0, 0, 0);
	REFUSED(ENOENT, x, XPOLL_CTL_MOD, -1, U, 1, EPOLLIN, 0, 0);
	/* DEL ignores events and data, as epoll_ctl()'s DEL does */
	ASSERT_EQ(0, u_add(x, 1, EPOLLIN, 1));
	EXPECT_EQ(0, uctl(x, XPOLL_CTL_DEL, -1, U, 1, EPOLLIN | EPOLLET, 0x55, 0));
	REFUSED(ENOENT, x, XPOLL_CTL_DEL, -1, U, 1, 0, 0, 0);
	/* a key of one instance is not another's */
	ASSERT_EQ(0, u_add(self->y, 3, EPOLLIN, 0));
	REFUSED(ENOENT, x, XPOLL_CTL_DEL, -1, U, 3, 0, 0, 0);
	EXPECT_EQ(0, u_add(x, 3, EPOLLIN, 0));
	EXPECT_EQ(0, u_del(self->y, 3));
	EXPECT_EQ(0, u_del(x, 3));
}

/* ADD, MOD and DEL of a user event take fd -1 and nothing else. */
TEST_F(err, fd_must_be_minus_one)
{
	int x = self->x;
	const int bad[] = { self->efd, 0, -2, INT32_MIN, 1000000, self->y, x };

	ASSERT_EQ(0, u_add(x, 7, EPOLLIN, 0));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		REFUSED(EINVAL, x, XPOLL_CTL_ADD, bad[i], U, 8, EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, XPOLL_CTL_MOD, bad[i], U, 7, EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, XPOLL_CTL_DEL, bad[i], U, 7, 0, 0, 0);
	}
	/* nothing was added, 7 is still there, no file item */
	EXPECT_EQ(-ENOENT, u_del(x, 8));
	EXPECT_EQ(0, u_del(x, 7));
	EXPECT_EQ(0, fdinfo_items(x));
}

/* Flags, reserved, key and the user-only ops. */
TEST_F(err, flags_reserved_key_and_ops)
{
	int x = self->x, e = self->efd;
	struct uev_line u[4];

	/* unknown flags, with a file and with a user event */
	for (uint32_t f = 1u << 1; f; f <<= 1) {
		REFUSED(EINVAL, x, XPOLL_CTL_ADD, e, f, 0, EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, XPOLL_CTL_ADD, -1, U | f, 1, EPOLLIN, 0, 0);
	}
	/* reserved not 0 */
	REFUSED(EINVAL, x, XPOLL_CTL_ADD, e, 0, 0, EPOLLIN, 0, 1);
	REFUSED(EINVAL, x, XPOLL_CTL_ADD, -1, U, 1, EPOLLIN, 0, 1ULL << 63);
	/* key not 0 without XPOLL_CTL_USER */
	REFUSED(EINVAL, x, XPOLL_CTL_ADD, e, 0, 1, EPOLLIN, 0, 0);
	REFUSED(EINVAL, x, XPOLL_CTL_ADD, e, 0, 1ULL << 63, EPOLLIN, 0, 0);
	EXPECT_EQ(0, fdinfo_items(x));
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, e, EPOLLIN, 0));
	REFUSED(EINVAL, x, XPOLL_CTL_MOD, e, 0, 1, EPOLLOUT, 0, 0);
	REFUSED(EINVAL, x, XPOLL_CTL_DEL, e, 0, 1, 0, 0, 0);
	REFUSED(EINVAL, x, XPOLL_CTL_MOD, e, 0, 0, EPOLLOUT, 0, 1);
	REFUSED(EINVAL, x, XPOLL_CTL_DEL, e, 0, 0, 0, 0, 1);
	EXPECT_EQ(1, fdinfo_items(x));
	/*
	 * TRIGGER and CLEAR without XPOLL_CTL_USER: ops of a file, unknown
	 * to epoll_ctl(), so EINVAL for an open file, and epoll's errno (its
	 * order of checks) for the rest: EBADF for fd -1, EPERM for a file
	 * that cannot be polled.
	 */
	for (int op = XPOLL_CTL_TRIGGER; op <= XPOLL_CTL_CLEAR; op++) {
		const int fds[] = { e, -1, self->pp[0], x };
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		REFUSED(EINVAL, x, op, e, 0, 0, EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, op, e, 0, 0, 0, 0, 0);
		REFUSED(EINVAL, x, op, self->pp[0], 0, 0, EPOLLIN, 0, 0);
		for (unsigned int i = 0; i < 5; i++) {
			int fd = i < 4 ? fds[i] : nul;
			int want = pl_ctl(BE_EPOLL, self->ep, op,
					  fd == x ? self->ep : fd, EPOLLIN, 0);

			EXPECT_NE(0, want);
			REFUSED(-want, x, op, fd, 0, 0, EPOLLIN, 0, 0);
		}
		close(nul);
	}
	/* ... also when the key exists */
	ASSERT_EQ(0, u_add(x, 0, EPOLLIN, 0));
	REFUSED(EINVAL, x, XPOLL_CTL_TRIGGER, e, 0, 0, EPOLLIN, 0, 0);
	REFUSED(EINVAL, x, XPOLL_CTL_CLEAR, e, 0, 0, EPOLLIN, 0, 0);
	/* ops that are none, with XPOLL_CTL_USER */
	REFUSED(EINVAL, x, 0, -1, U, 0, EPOLLIN, 0, 0);
	REFUSED(EINVAL, x, 6, -1, U, 0, EPOLLIN, 0, 0);
	REFUSED(EINVAL, x, 0xffffffffu, -1, U, 0, EPOLLIN, 0, 0);
	/* reserved with a user event's every op */
	for (int op = XPOLL_CTL_ADD; op <= XPOLL_CTL_CLEAR; op++)
		REFUSED(EINVAL, x, op, -1, U, op == XPOLL_CTL_ADD ? 1 : 0,
			EPOLLIN, 0, 1);
	/* after all that: one file item and key 0, pending empty */
	EXPECT_EQ(1, fdinfo_items(x));
	ASSERT_EQ(1, uev_parse(x, u, 4));
	EXPECT_EQ(0, u[0].key);
	EXPECT_EQ(0, u[0].pending);
}

/* The EPOLLEXCLUSIVE rules are a file's: the same errno as epoll's. */
TEST_F(err, exclusive_rules_as_epoll)
{
	static const uint32_t add_ev[] = {
		EPOLLIN | EPOLLEXCLUSIVE,
		EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLET | EPOLLEXCLUSIVE,
		EPOLLIN | EPOLLWAKEUP | EPOLLEXCLUSIVE,
		EPOLLEXCLUSIVE,
		EPOLLIN | EPOLLONESHOT | EPOLLEXCLUSIVE,
		EPOLLIN | EPOLLPRI | EPOLLEXCLUSIVE,
		EPOLLIN | EPOLLRDHUP | EPOLLEXCLUSIVE,
		EPOLLIN | EPOLLRDNORM | EPOLLEXCLUSIVE,
		EPOLLIN | EPOLLMSG | EPOLLEXCLUSIVE,
	};
	static const uint32_t mod_ev[] = {
		EPOLLIN, EPOLLIN | EPOLLEXCLUSIVE, EPOLLOUT | EPOLLET,
	};
	int e = eventfd(0, EFD_FLAGS), x = self->x, ep = self->ep;

	ASSERT_LE(0, e);
	for (unsigned int i = 0; i < sizeof(add_ev) / sizeof(add_ev[0]); i++) {
		int re = pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, e, add_ev[i], 1);
		int rx = u_add(x, 100 + i, add_ev[i], 1);

		EXPECT_EQ(re, rx) TH_LOG("ADD %#x: epoll %d, xpoll %d", add_ev[i], re, rx);
		if (i < 3) {	/* the allowed ones */
			EXPECT_EQ(0, rx) TH_LOG("ADD %#x", add_ev[i]);
		}
		if (!re) {
			/* MOD of an exclusive item: EINVAL, whatever the bits */
			for (unsigned int j = 0; j < 3; j++) {
				int me = pl_ctl(BE_EPOLL, ep, EPOLL_CTL_MOD, e, mod_ev[j], 2);
				int mx = u_mod(x, 100 + i, mod_ev[j], 2);

				EXPECT_EQ(-EINVAL, me);
				EXPECT_EQ(-EINVAL, mx) TH_LOG("MOD %#x of ADD %#x: %d",
							      mod_ev[j], add_ev[i], mx);
			}
			EXPECT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_DEL, e, 0, 0));
			EXPECT_EQ(0, u_del(x, 100 + i));
		}
	}
	/* without EPOLLEXCLUSIVE, any bits: accepted by both, as for a file */
	static const uint32_t any_ev[] = {
		0, 1u << 20, XP_EPOLLNVAL | EPOLLIN,
		~(uint32_t)EPOLLEXCLUSIVE, EPOLLONESHOT, EPOLLET | EPOLLRDHUP,
	};
	for (unsigned int i = 0; i < sizeof(any_ev) / sizeof(any_ev[0]); i++) {
		int re = pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, e, any_ev[i], 1);
		int rx = u_add(x, 200 + i, any_ev[i], 1);

		EXPECT_EQ(0, re);
		EXPECT_EQ(0, rx) TH_LOG("ADD %#x: %d", any_ev[i], rx);
		EXPECT_EQ(0, u_mod(x, 200 + i, any_ev[i], 2));
		EXPECT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_DEL, e, 0, 0));
		EXPECT_EQ(0, u_del(x, 200 + i));
	}
	/* MOD of a plain item that asks for EPOLLEXCLUSIVE */
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, u_add(x, 1, EPOLLIN, 1));
	EXPECT_EQ(-EINVAL, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_MOD, e,
				  EPOLLIN | EPOLLEXCLUSIVE, 1));
	EXPECT_EQ(-EINVAL, u_mod(x, 1, EPOLLIN | EPOLLEXCLUSIVE, 1));
	close(e);
}

/* TRIGGER and CLEAR: events 1 or more of XPOLL_USER_BITS, data 0. */
TEST_F(err, trigger_clear_fields)
{
	int x = self->x;
	struct epoll_event ev[16];

	ASSERT_EQ(0, u_add(x, 5, EPOLLIN | EPOLLET, 0x55));
	for (int op = XPOLL_CTL_TRIGGER; op <= XPOLL_CTL_CLEAR; op++) {
		REFUSED(EINVAL, x, op, -1, U, 5, 0, 0, 0);
		REFUSED(EINVAL, x, op, -1, U, 5, EPOLLIN, 1, 0);
		REFUSED(EINVAL, x, op, -1, U, 5, EPOLLIN, 1ULL << 63, 0);
		for (int b = 0; b < 32; b++) {
			uint32_t bit = 1u << b;

			if (XPOLL_USER_BITS & bit)
				continue;
			/* alone, and beside EPOLLIN */
			REFUSED(EINVAL, x, op, -1, U, 5, bit, 0, 0);
			REFUSED(EINVAL, x, op, -1, U, 5, bit | EPOLLIN, 0, 0);
		}
		REFUSED(EINVAL, x, op, -1, U, 5, EPOLLET, 0, 0);
		REFUSED(EINVAL, x, op, -1, U, 5, EPOLLONESHOT, 0, 0);
		REFUSED(EINVAL, x, op, -1, U, 5, XP_EPOLLNVAL, 0, 0);
		REFUSED(EINVAL, x, op, -1, U, 5, EPOLLEXCLUSIVE | EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, op, -1, U, 5, EPOLLWAKEUP | EPOLLIN, 0, 0);
	}
	/* none of those triggered anything */
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	/* every bit of XPOLL_USER_BITS, alone, is accepted by both */
	for (int b = 0; b < 32; b++) {
		uint32_t bit = 1u << b;

		if (!(XPOLL_USER_BITS & bit))
			continue;
		EXPECT_EQ(0, u_trig(x, -1, 5, bit)) TH_LOG("TRIGGER %#x", bit);
		EXPECT_EQ(0, u_clear(x, -1, 5, bit)) TH_LOG("CLEAR %#x", bit);
	}
	EXPECT_EQ(0, u_trig(x, -1, 5, XPOLL_USER_BITS));
	EXPECT_EQ(0, u_clear(x, -1, 5, XPOLL_USER_BITS));
	EXPECT_EQ(XPOLL_USER_BITS, 0x27dfu);
}

/* ENOENT: never added, deleted, or another instance's. */
TEST_F(err, trigger_clear_unknown_key_enoent)
{
	int x = self->x;

	for (int op = XPOLL_CTL_TRIGGER; op <= XPOLL_CTL_CLEAR; op++) {
		REFUSED(ENOENT, x, op, -1, U, 42, EPOLLIN, 0, 0);
		REFUSED(ENOENT, x, op, -1, U, 0, EPOLLIN, 0, 0);
		REFUSED(ENOENT, x, op, -1, U, ~0ULL, EPOLLIN, 0, 0);
	}
	ASSERT_EQ(0, u_add(x, 42, EPOLLIN, 0));
	EXPECT_EQ(0, u_trig(x, -1, 42, EPOLLIN));
	EXPECT_EQ(0, u_clear(x, -1, 42, EPOLLIN));
	ASSERT_EQ(0, u_del(x, 42));
	for (int op = XPOLL_CTL_TRIGGER; op <= XPOLL_CTL_CLEAR; op++)
		REFUSED(ENOENT, x, op, -1, U, 42, EPOLLIN, 0, 0);
	/* key 42 of y, asked through x for x: ENOENT */
	ASSERT_EQ(0, u_add(self->y, 42, EPOLLIN, 0));
	REFUSED(ENOENT, x, XPOLL_CTL_TRIGGER, -1, U, 42, EPOLLIN, 0, 0);
	/* a file's fd number is no key */
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, self->efd, EPOLLIN, 0));
	REFUSED(ENOENT, x, XPOLL_CTL_TRIGGER, -1, U, self->efd, EPOLLIN, 0, 0);
}

/*
 * fd names another instance: its event is triggered.  EBADF if fd is not
 * open, EINVAL if it is not an instance.
 */
TEST_F(err, trigger_through_another_instance)
{
	int x = self->x, y = self->y, closed, nul;
	struct epoll_event ev[16];

	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nul);
	closed = dup(self->efd);	/* a number nothing else holds */
	ASSERT_LE(0, closed);
	close(closed);
	ASSERT_EQ(0, u_add(y, 6, EPOLLIN, 0x66));
	ASSERT_EQ(0, u_add(x, 6, EPOLLIN, 0x60));	/* x's own key 6 */
	ASSERT_EQ(0, u_trig(x, y, 6, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, y, ev));
	EXPECT_EQ(0x66, ev[0].data.u64);
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));	/* not x's */
	ASSERT_EQ(0, u_clear(x, y, 6, EPOLLIN));
	EXPECT_EQ(0, wait0(BE_XPOLL, y, ev));
	/* the instance's own descriptor names the instance too */
	ASSERT_EQ(0, u_trig(x, x, 6, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0x60, ev[0].data.u64);
	EXPECT_EQ(0, wait0(BE_XPOLL, y, ev));
	ASSERT_EQ(0, u_clear(x, x, 6, EPOLLIN));
	/* a key the other instance lacks */
	ASSERT_EQ(0, u_add(x, 7, EPOLLIN, 0));
	REFUSED(ENOENT, x, XPOLL_CTL_TRIGGER, y, U, 7, EPOLLIN, 0, 0);
	REFUSED(ENOENT, x, XPOLL_CTL_CLEAR, y, U, 7, EPOLLIN, 0, 0);
	for (int op = XPOLL_CTL_TRIGGER; op <= XPOLL_CTL_CLEAR; op++) {
		/* not open */
		REFUSED(EBADF, x, op, closed, U, 6, EPOLLIN, 0, 0);
		REFUSED(EBADF, x, op, 1000000, U, 6, EPOLLIN, 0, 0);
		REFUSED(EBADF, x, op, -5, U, 6, EPOLLIN, 0, 0);
		/* not an instance */
		REFUSED(EINVAL, x, op, self->efd, U, 6, EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, op, self->ep, U, 6, EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, op, nul, U, 6, EPOLLIN, 0, 0);
		REFUSED(EINVAL, x, op, self->pp[0], U, 6, EPOLLIN, 0, 0);
	}
	EXPECT_EQ(0, wait0(BE_XPOLL, y, ev));
	EXPECT_EQ(0, wait0(BE_XPOLL, x, ev));
	close(nul);
}

/* A key never collides with a descriptor: key N and fd N coexist. */
TEST_F(err, key_space_separate_from_fds)
{
	int x = self->x, e = self->efd;
	struct epoll_event ev[16];
	uint64_t one = 1;

	ASSERT_EQ(0, pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, e, EPOLLIN, 0xf11e));
	ASSERT_EQ(0, u_add(x, (uint64_t)e, EPOLLIN, 0x05e4));
	REFUSED(EEXIST, x, XPOLL_CTL_ADD, -1, U, (uint64_t)e, EPOLLIN, 0, 0);
	EXPECT_EQ(-EEXIST, pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, e, EPOLLIN, 0));
	EXPECT_EQ(1, fdinfo_items(x));
	/* the user event alone */
	ASSERT_EQ(0, u_trig(x, -1, (uint64_t)e, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0x05e4, ev[0].data.u64);
	/* the file too */
	ASSERT_EQ(8, write(e, &one, 8));
	ASSERT_EQ(2, wait0(BE_XPOLL, x, ev));
	ev_sort(ev, 2);
	EXPECT_EQ(0x05e4, ev[0].data.u64);
	EXPECT_EQ(0xf11e, ev[1].data.u64);
	/* MOD and DEL of one leave the other */
	ASSERT_EQ(0, u_mod(x, (uint64_t)e, EPOLLIN, 0x05e5));
	ASSERT_EQ(0, u_del(x, (uint64_t)e));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0xf11e, ev[0].data.u64);
	EXPECT_EQ(1, fdinfo_items(x));
	ASSERT_EQ(0, u_add(x, (uint64_t)e, EPOLLIN, 0x05e6));
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, x, EPOLL_CTL_DEL, e, 0, 0));
	EXPECT_EQ(0, fdinfo_items(x));
	EXPECT_EQ(-ENOENT, pl_ctl(BE_XPOLL, x, EPOLL_CTL_DEL, e, 0, 0));
	ASSERT_EQ(0, u_trig(x, -1, (uint64_t)e, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0x05e6, ev[0].data.u64);
	/* closing the file with that number leaves the user event */
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, e, EPOLLIN, 0xf11e));
	close(e);
	self->efd = eventfd(0, EFD_FLAGS);
	EXPECT_EQ(0, fdinfo_items(x));
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0x05e6, ev[0].data.u64);
	EXPECT_EQ(0, u_del(x, (uint64_t)e));
}

/* Keys are 64-bit: 0, ~0, high bits, and keys equal in their low 32 bits. */
TEST_F(err, keys_are_64_bit)
{
	static const uint64_t k[] = { 0, ~0ULL, 1ULL << 63, 5, (1ULL << 32) | 5,
				      0xffffffffULL, 0x100000000ULL };
	enum { NK = sizeof(k) / sizeof(k[0]) };
	int x = self->x;
	struct epoll_event ev[16];

	if (sizeof(long) < 8)
		SKIP(return, "a 32-bit process may run on a 32-bit kernel");
	for (int i = 0; i < NK; i++) {
		ASSERT_EQ(0, u_add(x, k[i], EPOLLIN, 1000 + i)) TH_LOG("key %#llx",
							(unsigned long long)k[i]);
	}
	for (int i = 0; i < NK; i++) {
		ASSERT_EQ(0, u_trig(x, -1, k[i], EPOLLIN));
		ASSERT_EQ(1, wait0(BE_XPOLL, x, ev)) TH_LOG("key %#llx",
							   (unsigned long long)k[i]);
		EXPECT_EQ(1000 + i, ev[0].data.u64);
		ASSERT_EQ(0, u_clear(x, -1, k[i], EPOLLIN));
	}
	for (int i = 0; i < NK; i++) {
		EXPECT_EQ(0, u_del(x, k[i]));
		for (int j = i + 1; j < NK; j++) {	/* the others stay */
			EXPECT_EQ(0, u_trig(x, -1, k[j], EPOLLOUT));
		}
	}
}

/*
 * A trigger in the change list of one instance's XPOLL_IOC_CTL_WAIT (and
 * in a XPOLL_IOC_CTL_BATCH) wakes a thread blocked on another instance.
 */
TEST_F(err, trigger_in_ctl_wait_wakes_other_instance)
{
	int x = self->x, y = self->y;
	struct waiter w = { .be = BE_XPOLL, .p = y, .timeout_ns = 5000000000LL };
	struct xpoll_ctl c[3] = {
		{ .op = XPOLL_CTL_TRIGGER, .fd = y, .flags = U, .key = 77,
		  .events = EPOLLIN },
		{ .op = XPOLL_CTL_TRIGGER, .fd = y, .flags = U, .key = 78,
		  .events = EPOLLIN },			/* ENOENT */
		{ .op = XPOLL_CTL_TRIGGER, .fd = -1, .flags = U, .key = 77,
		  .events = EPOLLIN },			/* x's own 77 */
	};
	struct epoll_event ev[16];
	int32_t res[3] = { 1, 1, 1 };
	uint32_t done;
	pthread_t t;
	int64_t t0;

	ASSERT_EQ(0, u_add(y, 77, EPOLLIN | EPOLLET, 0x77));
	ASSERT_EQ(0, u_add(x, 77, EPOLLIN | EPOLLET, 0x70));
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
	ASSERT_TRUE(waiter_sleeping(&w, 2000));
	t0 = now_ns();
	/* x's own event comes back from the same call */
	EXPECT_EQ(1, ctl_wait(x, c, res, 3, &done, ev, 16, 0));
	EXPECT_EQ(0x70, ev[0].data.u64);
	EXPECT_EQ(3u, done);
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(-ENOENT, res[1]);
	EXPECT_EQ(0, res[2]);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, w.ret);
	EXPECT_EQ(0x77, w.ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, w.ev[0].events);
	EXPECT_GT(1000000000LL, w.done_ns - t0);
	EXPECT_EQ(0, wait0(BE_XPOLL, y, ev));

	/* the same through XPOLL_IOC_CTL_BATCH */
	w = (struct waiter){ .be = BE_XPOLL, .p = y, .timeout_ns = 5000000000LL };
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
	ASSERT_TRUE(waiter_sleeping(&w, 2000));
	EXPECT_EQ(0, batch1(x, &c[0]));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(1, w.ret);
	EXPECT_EQ(0x77, w.ev[0].data.u64);
}

/* ==== a trigger never waits for a wait in progress ==== */

struct trig_arg {
	int via, fd;
	uint32_t op;
	uint64_t key;
	int ret;
	int64_t ns;
	int finished;
};

static void *trig_fn(void *arg)
{
	struct trig_arg *a = arg;
	int64_t t0 = now_ns();

	a->ret = uctl(a->via, a->op, a->fd, XPOLL_CTL_USER, a->key, EPOLLIN, 0, 0);
	a->ns = now_ns() - t0;
	__atomic_store_n(&a->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct add_arg {
	int x;
	uint64_t key;
	int ret, finished;
};

static void *add_fn(void *arg)
{
	struct add_arg *a = arg;

	a->ret = u_add(a->x, a->key, EPOLLIN, a->key);
	__atomic_store_n(&a->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool finished_within(int *flag, int ms)
{
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (now_ns() > end)
			return false;
		msleep(1);
	}
	return true;
}

/*
 * A wait stalled on a userfaultfd page while it stores its events holds
 * the instance's mutex (an ADD meanwhile waits: checked, the premise).  A
 * TRIGGER and a CLEAR of that instance, through it or through another
 * instance, each return within 100 ms, and the stalled wait's instance
 * reports the trigger once the stall ends.
 */
TEST_F_TIMEOUT(err, trigger_does_not_wait_for_stalled_wait, 60)
{
	struct stalled_wait sw = { .be = BE_XPOLL, .p = self->x };
	struct add_arg add = { .x = self->x, .key = 3 };
	struct trig_arg tr[5] = {
		{ .via = self->x, .fd = -1, .op = XPOLL_CTL_TRIGGER, .key = 2 },
		{ .via = self->x, .fd = -1, .op = XPOLL_CTL_CLEAR, .key = 2 },
		{ .via = self->y, .fd = self->x, .op = XPOLL_CTL_TRIGGER, .key = 2 },
		{ .via = self->y, .fd = self->x, .op = XPOLL_CTL_TRIGGER, .key = 9 },
		{ .via = self->x, .fd = -1, .op = XPOLL_CTL_TRIGGER, .key = 2 },
	};
	struct epoll_event ev[16];
	pthread_t waiter, adder, tt;
	struct uffd_page u;
	bool stalled;
	int r, n;

	r = uffd_page_open(&u);
	if (r == -ENOSYS || r == -EPERM)
		SKIP(return, "userfaultfd: %s", strerror(-r));
	ASSERT_EQ(0, r);
	/* key 1: what the stalled wait stores; key 2: what others trigger */
	ASSERT_EQ(0, u_add(self->x, 1, EPOLLIN, 1));
	ASSERT_EQ(0, u_add(self->x, 2, EPOLLIN | EPOLLET, 2));
	ASSERT_EQ(0, u_trig(self->x, -1, 1, EPOLLIN));
	sw.ev = (struct epoll_event *)u.page;
	ASSERT_EQ(0, pthread_create(&waiter, NULL, stalled_wait_fn, &sw));
	stalled = uffd_page_faulted(&u, 10000);
	ASSERT_TRUE(stalled);
	/* the premise: the instance's mutex is held (ADD takes it) */
	ASSERT_EQ(0, pthread_create(&adder, NULL, add_fn, &add));
	msleep(200);
	EXPECT_FALSE(__atomic_load_n(&add.finished, __ATOMIC_ACQUIRE))
		TH_LOG("an ADD did not wait for the stalled wait: the test's premise is gone");

	for (int i = 0; i < 5; i++) {
		ASSERT_EQ(0, pthread_create(&tt, NULL, trig_fn, &tr[i]));
		if (!finished_within(&tr[i].finished, 2000)) {
			TH_LOG("op %d (%s key %llu): still blocked after 2 s",
			       i, tr[i].op == XPOLL_CTL_TRIGGER ? "TRIGGER" : "CLEAR",
			       (unsigned long long)tr[i].key);
			/* end the stall, so the thread and the test can finish */
			uffd_page_release(&u);
			pthread_join(tt, NULL);
			EXPECT_TRUE(false);
			break;
		}
		pthread_join(tt, NULL);
		TH_LOG("op %d (%s key %llu via %s): %d in %" PRId64 " us", i,
		       tr[i].op == XPOLL_CTL_TRIGGER ? "TRIGGER" : "CLEAR",
		       (unsigned long long)tr[i].key, tr[i].fd < 0 ? "itself" : "another",
		       tr[i].ret, tr[i].ns / 1000);
		EXPECT_EQ(tr[i].key == 9 ? -ENOENT : 0, tr[i].ret);
		EXPECT_GT(100000000LL, tr[i].ns);
	}

	uffd_page_release(&u);
	ASSERT_EQ(0, pthread_join(waiter, NULL));
	ASSERT_EQ(0, pthread_join(adder, NULL));
	EXPECT_EQ(1, sw.ret);
	EXPECT_EQ(1, sw.ev[0].data.u64);
	EXPECT_EQ(0, add.ret);
	/* key 1 (level), key 2 (triggered while stalled) */
	n = wait0(BE_XPOLL, self->x, ev);
	ASSERT_EQ(2, n);
	EXPECT_LE(0, ev_find(ev, n, 1));
	EXPECT_LE(0, ev_find(ev, n, 2));
	uffd_page_close(&u);
}

/* ==== the watch limit ==== */

#define LIMIT 10

/*
 * As uid 65534: user events count against max_user_watches beside file
 * watches, across instances; the step that went wrong, or 0.
 */
static int user_events_limit(void)
{
	int a = xp_open(O_CLOEXEC), b = xp_open(O_CLOEXEC), efd[LIMIT], e2;

	if (a < 0 || b < 0)
		return 1;
	for (int i = 0; i < LIMIT; i++)
		if ((efd[i] = eventfd(0, EFD_CLOEXEC)) < 0)
			return 2;
	if ((e2 = eventfd(0, EFD_CLOEXEC)) < 0)
		return 2;
	/* 4 files and 2 user events in a, 4 user events in b */
	for (int i = 0; i < 4; i++)
		if (pl_ctl(BE_XPOLL, a, EPOLL_CTL_ADD, efd[i], EPOLLIN, i))
			return 10 + i;
	for (int i = 0; i < 2; i++)
		if (u_add(a, i, EPOLLIN, i))
			return 20 + i;
	for (int i = 0; i < 4; i++)
		if (u_add(b, i, EPOLLIN, i))
			return 30 + i;
	/* at the limit */
	if (u_add(a, 100, EPOLLIN, 0) != -ENOSPC)
		return 40;
	if (u_add(b, 100, EPOLLIN, 0) != -ENOSPC)
		return 41;
	if (pl_ctl(BE_XPOLL, a, EPOLL_CTL_ADD, efd[5], EPOLLIN, 0) != -ENOSPC)
		return 42;
	/* EEXIST before ENOSPC; MOD, TRIGGER and CLEAR need no watch */
	if (u_add(a, 0, EPOLLIN, 0) != -EEXIST)
		return 43;
	if (u_mod(a, 0, EPOLLIN | EPOLLET, 0) || u_trig(a, -1, 0, EPOLLIN) ||
	    u_clear(a, -1, 0, EPOLLIN) || u_trig(a, b, 3, EPOLLIN))
		return 44;
	/* DEL of a user event gives one back, to a file or a user event */
	if (u_del(a, 1))
		return 50;
	if (pl_ctl(BE_XPOLL, a, EPOLL_CTL_ADD, efd[5], EPOLLIN, 0))
		return 51;
	if (u_add(b, 100, EPOLLIN, 0) != -ENOSPC)
		return 52;
	if (pl_ctl(BE_XPOLL, a, EPOLL_CTL_DEL, efd[5], 0, 0))
		return 53;
	if (u_add(b, 100, EPOLLIN, 0))
		return 54;
	if (u_add(a, 101, EPOLLIN, 0) != -ENOSPC)
		return 55;
	/* closing b gives back its 5 */
	close(b);
	for (int i = 0; i < 5; i++)
		if (u_add(a, 200 + i, EPOLLIN, 0))
			return 60 + i;
	if (u_add(a, 300, EPOLLIN, 0) != -ENOSPC)
		return 70;
	if (pl_ctl(BE_XPOLL, a, EPOLL_CTL_ADD, e2, EPOLLIN, 0) != -ENOSPC)
		return 71;
	close(a);
	return 0;
}

/* Runs fn() as uid 65534 in a child: its status (0 ok, 255 no fork). */
static int as_nobody(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 255;
	if (pid == 0) {
		if (xp_drop_privs(XP_NOBODY))
			_exit(100);
		_exit(fn());
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 254;
	return WEXITSTATUS(status);
}

TEST(user_events_count_against_max_user_watches)
{
	long old = read_long(XPOLL_LIMIT);
	int r;

	UEV_REQUIRE();
	if (old < 0 || geteuid() || write_long(XPOLL_LIMIT, old))
		SKIP(return, "cannot write %s (root needed)", XPOLL_LIMIT);
	ASSERT_EQ(0, write_long(XPOLL_LIMIT, LIMIT));
	r = as_nobody(user_events_limit);
	write_long(XPOLL_LIMIT, old);
	EXPECT_EQ(0, r) TH_LOG("step %d failed (10-34: an ADD under the limit "
			       "refused, 40-42: no ENOSPC at the limit, 43: not "
			       "EEXIST, 44: MOD/TRIGGER/CLEAR refused at the limit, "
			       "50-55: DEL not given back, 60-71: close not given "
			       "back)", r);
}

/* ==== wakeup paths ==== */

/*
 * A user event is a wakeup source as a file is: an instance with one
 * may be watched by at most 500 instances (epoll's limit of paths of
 * length 1), whichever comes first, the user event or the parents.
 * Returns 0, or the step that failed.
 */
static int user_event_paths(void)
{
	enum { NP = 501 };
	int x, p[NP], i, r = 0;
	struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .events = EPOLLIN };

	/* Parents first, then the first user event. */
	if ((x = xp_open(O_CLOEXEC)) < 0)
		return 1;
	c.fd = x;
	for (i = 0; i < NP; i++) {
		if ((p[i] = xp_open(O_CLOEXEC)) < 0)
			return 2;
		if (ioctl(p[i], XPOLL_IOC_CTL, &c))
			return 3;
	}
	if (u_add(x, 1, EPOLLIN, 0) != -EINVAL)
		r = 10;
	/* With 500 parents it is accepted, and so are later ones. */
	close(p[NP - 1]);
	if (!r && u_add(x, 1, EPOLLIN, 0))
		r = 11;
	if (!r && u_add(x, 2, EPOLLIN, 0))
		r = 12;
	/* The user event first: the 501st parent is refused. */
	if (!r && ((p[NP - 1] = xp_open(O_CLOEXEC)) < 0 ||
		   ioctl(p[NP - 1], XPOLL_IOC_CTL, &c) == 0 || errno != EINVAL))
		r = 13;
	for (i = 0; i < NP; i++)
		close(p[i]);
	close(x);
	return r;
}

TEST(user_event_is_a_wakeup_path)
{
	int r;

	UEV_REQUIRE();
	r = as_nobody(user_event_paths);
	EXPECT_EQ(0, r) TH_LOG("step %d failed (3: a parent refused below the "
			       "limit; 10: first user event of an instance with "
			       "501 parents accepted; 11-12: refused with 500; "
			       "13: a 501st parent accepted)", r);
}

/* ==== fdinfo ==== */

TEST(fdinfo_lists_user_events)
{
	const uint64_t k1 = 0x1234abcd5678ULL, d1 = 0xfedcba9876543210ULL;
	int x = xp_open(O_CLOEXEC), e = eventfd(0, EFD_FLAGS);
	struct fdinfo_item it[4];
	struct uev_line u[4];
	const struct uev_line *l;
	int n;

	UEV_REQUIRE();
	ASSERT_LE(0, x);
	ASSERT_LE(0, e);
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, e, EPOLLIN, 0x11));
	ASSERT_EQ(0, u_add(x, k1, EPOLLIN | EPOLLET, d1));
	ASSERT_EQ(0, u_add(x, (uint64_t)e, EPOLLIN | EPOLLPRI | EPOLLONESHOT, 0));
	ASSERT_EQ(0, u_add(x, ~0ULL, EPOLLOUT, 7));
	ASSERT_EQ(0, u_trig(x, -1, k1, EPOLLIN | EPOLLPRI | EPOLLOUT));
	ASSERT_EQ(0, u_trig(x, -1, ~0ULL, XPOLL_USER_BITS));
	ASSERT_EQ(0, u_clear(x, -1, k1, EPOLLOUT));

	/* the file's line, as before */
	n = fdinfo_parse(x, it, 4);
	ASSERT_EQ(1, n) TH_LOG("tfd lines: %d (-EPROTO: unparsable)", n);
	EXPECT_EQ(e, it[0].tfd);
	EXPECT_EQ(0x11, it[0].data);
	EXPECT_EQ(EPOLLIN | ERRHUP, it[0].events);

	n = uev_parse(x, u, 4);
	ASSERT_EQ(3, n) TH_LOG("uev lines: %d (-EPROTO: not \"uev: <hex> "
			       "events: <hex> data: <hex> pending: <hex>\")", n);
	l = uev_find(u, n, k1);
	ASSERT_NE(NULL, l) TH_LOG("key %#llx (hex) not listed", (unsigned long long)k1);
	EXPECT_TRUE(interest_is(l->events, EPOLLIN | EPOLLET))
		TH_LOG("events %#x", l->events);
	EXPECT_EQ(d1, l->data);
	EXPECT_EQ(EPOLLIN | EPOLLPRI, l->pending);
	l = uev_find(u, n, (unsigned long long)e);
	ASSERT_NE(NULL, l);
	EXPECT_TRUE(interest_is(l->events, EPOLLIN | EPOLLPRI | EPOLLONESHOT))
		TH_LOG("events %#x", l->events);
	EXPECT_EQ(0, l->data);
	EXPECT_EQ(0, l->pending);
	l = uev_find(u, n, ~0ULL);
	ASSERT_NE(NULL, l);
	EXPECT_TRUE(interest_is(l->events, EPOLLOUT)) TH_LOG("events %#x", l->events);
	EXPECT_EQ(7, l->data);
	EXPECT_EQ(XPOLL_USER_BITS, l->pending);

	/* MOD: new interest and data, same pending */
	ASSERT_EQ(0, u_mod(x, k1, EPOLLRDNORM, 0x42));
	ASSERT_EQ(3, uev_parse(x, u, 4));
	l = uev_find(u, 3, k1);
	ASSERT_NE(NULL, l);
	EXPECT_TRUE(interest_is(l->events, EPOLLRDNORM)) TH_LOG("events %#x", l->events);
	EXPECT_EQ(0x42, l->data);
	EXPECT_EQ(EPOLLIN | EPOLLPRI, l->pending);
	/* DEL: its line goes, the others stay */
	ASSERT_EQ(0, u_del(x, (uint64_t)e));
	ASSERT_EQ(2, uev_parse(x, u, 4));
	EXPECT_EQ(NULL, uev_find(u, 2, (unsigned long long)e));
	ASSERT_EQ(0, u_del(x, k1));
	ASSERT_EQ(0, u_del(x, ~0ULL));
	EXPECT_EQ(0, uev_parse(x, u, 4));
	EXPECT_EQ(1, fdinfo_parse(x, it, 4));
	close(e);
	close(x);
}

/* ==== nesting ==== */

/*
 * An instance holding a user event, watched by a parent instance and by
 * an epoll instance (and poll()): a trigger makes both report, and wakes
 * a thread blocked on each; a CLEAR makes their level-triggered items
 * report nothing again.
 */
TEST(nested_parents_report_a_trigger)
{
	int x = xp_open(O_CLOEXEC), p = xp_open(O_CLOEXEC);
	int e = epoll_create1(EPOLL_CLOEXEC);
	struct waiter wp = { .be = BE_XPOLL, .p = p, .timeout_ns = 5000000000LL };
	struct waiter we = { .be = BE_EPOLL, .p = e, .timeout_ns = 5000000000LL };
	struct pollfd pfd = { .fd = x, .events = POLLIN };
	struct epoll_event ev[16];
	pthread_t tp, te;

	UEV_REQUIRE();
	ASSERT_LE(0, x);
	ASSERT_LE(0, p);
	ASSERT_LE(0, e);
	ASSERT_EQ(0, u_add(x, 1, EPOLLIN, 0x1));
	ASSERT_EQ(0, u_add(x, 2, EPOLLIN | EPOLLET, 0x2));
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, p, EPOLL_CTL_ADD, x, EPOLLIN, 0x100));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, e, EPOLL_CTL_ADD, x, EPOLLIN, 0x200));
	EXPECT_EQ(0, wait0(BE_XPOLL, p, ev));
	EXPECT_EQ(0, wait0(BE_EPOLL, e, ev));
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	ASSERT_EQ(0, pthread_create(&tp, NULL, waiter_fn, &wp));
	ASSERT_EQ(0, pthread_create(&te, NULL, waiter_fn, &we));
	ASSERT_TRUE(waiter_sleeping(&wp, 2000));
	ASSERT_TRUE(waiter_sleeping(&we, 2000));
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLIN));
	ASSERT_EQ(0, pthread_join(tp, NULL));
	ASSERT_EQ(0, pthread_join(te, NULL));
	EXPECT_EQ(1, wp.ret);
	EXPECT_EQ(0x100, wp.ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, wp.ev[0].events);
	EXPECT_EQ(1, we.ret);
	EXPECT_EQ(0x200, we.ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, we.ev[0].events);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents);
	ASSERT_EQ(1, wait0(BE_XPOLL, p, ev));
	ASSERT_EQ(1, wait0(BE_EPOLL, e, ev));
	/* the child itself reports key 1 */
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0x1, ev[0].data.u64);

	/* CLEAR: nothing ready below, the parents' items report nothing */
	ASSERT_EQ(0, u_clear(x, -1, 1, EPOLLIN));
	EXPECT_EQ(0, wait0(BE_XPOLL, p, ev));
	EXPECT_EQ(0, wait0(BE_EPOLL, e, ev));
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	/* an edge-triggered event: the parents see it until x is waited on */
	ASSERT_EQ(0, u_trig(x, -1, 2, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_XPOLL, p, ev));
	EXPECT_EQ(0x100, ev[0].data.u64);
	ASSERT_EQ(1, wait0(BE_EPOLL, e, ev));
	EXPECT_EQ(0x200, ev[0].data.u64);
	ASSERT_EQ(1, wait0(BE_XPOLL, x, ev));
	EXPECT_EQ(0x2, ev[0].data.u64);
	EXPECT_EQ(0, wait0(BE_XPOLL, p, ev));
	EXPECT_EQ(0, wait0(BE_EPOLL, e, ev));
	/* through the parent instance, naming the child: the child's event */
	ASSERT_EQ(0, u_trig(p, x, 2, EPOLLIN));
	ASSERT_EQ(1, wait0(BE_EPOLL, e, ev));
	close(e);
	close(p);
	close(x);
}

/*
 * A mixed cycle (epoll e watches instance x, x watches e, as epoll's
 * rules allow from the epoll side) with a user event in x: a trigger
 * returns at once and wakes a thread blocked on e, and waits on both
 * report it; nothing loops (the debug guest's lockup detectors watch).
 */
TEST(trigger_in_a_mixed_cycle)
{
	int x = xp_open(O_CLOEXEC), e = epoll_create1(EPOLL_CLOEXEC), n;
	struct waiter we = { .be = BE_EPOLL, .p = e, .timeout_ns = 5000000000LL };
	struct epoll_event ev[16];
	pthread_t t;
	int64_t t0, ns;

	UEV_REQUIRE();
	ASSERT_LE(0, x);
	ASSERT_LE(0, e);
	ASSERT_EQ(0, u_add(x, 1, EPOLLIN, 0x1));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, e, EPOLL_CTL_ADD, x, EPOLLIN, 0x200));
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, x, EPOLL_CTL_ADD, e, EPOLLIN, 0x2));
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &we));
	ASSERT_TRUE(waiter_sleeping(&we, 2000));
	t0 = now_ns();
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLIN));
	ns = now_ns() - t0;
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_GT(100000000LL, ns) TH_LOG("trigger took %" PRId64 " us", ns / 1000);
	EXPECT_EQ(1, we.ret);
	EXPECT_EQ(0x200, we.ev[0].data.u64);
	n = wait0(BE_XPOLL, x, ev);
	EXPECT_LE(0, ev_find(ev, n, 0x1)) TH_LOG("%d events", n);
	EXPECT_EQ(1, wait0(BE_EPOLL, e, ev));
	ASSERT_EQ(0, u_clear(x, -1, 1, EPOLLIN));
	n = wait0(BE_XPOLL, x, ev);
	EXPECT_GT(0, ev_find(ev, n > 0 ? n : 0, 0x1));
	/* both still answer */
	ASSERT_EQ(0, u_trig(x, -1, 1, EPOLLIN | EPOLLHUP));
	n = wait0(BE_XPOLL, x, ev);
	EXPECT_EQ(EPOLLIN | EPOLLHUP, ev_find(ev, n, 0x1));
	close(e);
	close(x);
}

/* ==== release ==== */

#define NREL 10000

struct rel_times { int64_t add_ns, close_ns; };

/*
 * The child of release_of_10000_user_events, as uid 65534, with
 * max_user_watches NREL: NREL user events, half of them triggered (on
 * the ready list), fill the quota; their instance is closed; the times
 * go to @out.  Then, once the parent has set the limit to 1 (a byte on
 * @go), one ADD must succeed and a second fail: the close gave every
 * watch back.  Returns the failed step, or 0.
 */
static int release_many(int out, int go)
{
	struct rel_times t;
	int x = xp_open(O_CLOEXEC), y, e = eventfd(0, EFD_CLOEXEC);
	int64_t t0;
	char c;

	if (x < 0 || e < 0)
		return 1;
	t0 = now_ns();
	if (batch_user(x, XPOLL_CTL_ADD, 1, NREL, EPOLLIN))
		return 2;
	t.add_ns = now_ns() - t0;
	if (batch_user(x, XPOLL_CTL_TRIGGER, 1, NREL / 2, EPOLLIN))
		return 3;
	if (u_add(x, 0, EPOLLIN, 0) != -ENOSPC)
		return 4;
	t0 = now_ns();
	close(x);
	t.close_ns = now_ns() - t0;
	if (write(out, &t, sizeof(t)) != sizeof(t) || read(go, &c, 1) != 1)
		return 5;
	y = xp_open(O_CLOEXEC);
	if (y < 0)
		return 6;
	if (u_add(y, 1, EPOLLIN, 0))
		return 7;
	if (u_add(y, 2, EPOLLIN, 0) != -ENOSPC ||
	    pl_ctl(BE_XPOLL, y, EPOLL_CTL_ADD, e, EPOLLIN, 0) != -ENOSPC)
		return 8;
	close(y);
	return 0;
}

/*
 * Release of an instance with 10,000 user events: quick, and every watch
 * given back.  Quick: < 1 s, or on a slow (debug, loaded TCG) kernel,
 * where the ADDs of the same events took more than 1/3 s, no longer than
 * 3 times them (a release that is not linear fails both by far).
 */
TEST_F_TIMEOUT(err, release_of_10000_user_events, 120)
{
	long old = read_long(XPOLL_LIMIT);
	struct rel_times t = { -1, -1 };
	int out[2], go[2], status;
	pid_t pid;

	if (old < 0 || geteuid() || write_long(XPOLL_LIMIT, old))
		SKIP(return, "cannot write %s (root needed)", XPOLL_LIMIT);
	ASSERT_EQ(0, pipe2(out, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, write_long(XPOLL_LIMIT, NREL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(out[0]);
		close(go[1]);
		if (xp_drop_privs(XP_NOBODY))
			_exit(100);
		_exit(release_many(out[1], go[0]));
	}
	close(out[1]);
	close(go[0]);
	if (read(out[0], &t, sizeof(t)) == sizeof(t)) {
		EXPECT_EQ(0, write_long(XPOLL_LIMIT, 1));
		EXPECT_EQ(1, write(go[1], "g", 1));
	}
	close(go[1]);
	close(out[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	write_long(XPOLL_LIMIT, old);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("step %d failed (2: ADDs, 3: TRIGGERs, 4: no ENOSPC at "
		       "the limit, 7: a watch not given back at close, 8: no "
		       "ENOSPC at a limit of 1)", WEXITSTATUS(status));
	TH_LOG("%d user events: ADDs %" PRId64 " us, close %" PRId64 " us",
	       NREL, t.add_ns / 1000, t.close_ns / 1000);
	EXPECT_LE(0, t.close_ns);
	EXPECT_TRUE(t.close_ns < 1000000000LL || t.close_ns < 3 * t.add_ns)
		TH_LOG("close took %" PRId64 " ms", t.close_ns / 1000000);
}

/* ==== races ==== */

struct racer {
	int y;
	int *xfd;	/* the current instance's descriptor */
	int stop;
	long ok, enoent, ebadf, other;
	int other_err;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	unsigned int s = 1;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		int fd = __atomic_load_n(r->xfd, __ATOMIC_ACQUIRE);
		uint64_t key = (s = s * 1103515245 + 12345) >> 16 & 15;
		int res = (s >> 8) & 1 ? u_trig(r->y, fd, key, EPOLLIN | EPOLLOUT)
				       : u_clear(r->y, fd, key, EPOLLIN);

		if (!res)
			r->ok++;
		else if (res == -ENOENT)
			r->enoent++;
		else if (res == -EBADF)
			r->ebadf++;
		else {
			r->other++;
			r->other_err = res;
		}
	}
	return NULL;
}

/*
 * Triggers and clears from two threads (through another instance) racing
 * ADD / MOD / DEL / waits of 16 keys and the close of the instance: only
 * 0, ENOENT or EBADF, and the owner's results exactly as its model says.
 * (KASAN and lockdep of the debug guest watch the rest.)
 */
TEST_F_TIMEOUT(err, triggers_race_del_and_close, 60)
{
	static const uint32_t modes[] = { EPOLLIN, EPOLLIN | EPOLLET,
					  EPOLLIN | EPOLLONESHOT, EPOLLIN | EPOLLOUT };
	int xfd = xp_open(O_CLOEXEC), bad = 0;
	struct racer r[2] = { { .y = self->y, .xfd = &xfd },
			      { .y = self->x, .xfd = &xfd } };
	bool added[16] = { false };
	struct epoll_event ev[16];
	unsigned int s = 7;
	pthread_t t[2];
	long rounds = 0;
	int64_t end;

	ASSERT_LE(0, xfd);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_create(&t[i], NULL, racer_fn, &r[i]));
	}
	end = now_ns() + 1000000000LL;
	while (now_ns() < end && bad < 5) {
		int x = xfd;

		for (int i = 0; i < 200; i++, rounds++) {
			int k = (s = s * 1103515245 + 12345) >> 16 & 15, res, want;
			uint32_t m = modes[(s >> 4) & 3];

			switch ((s >> 8) % 5) {
			case 0:
			case 1:
				res = u_add(x, k, m, k);
				want = added[k] ? -EEXIST : 0;
				added[k] = true;
				break;
			case 2:
				res = u_mod(x, k, m, k);
				want = added[k] ? 0 : -ENOENT;
				break;
			case 3:
				res = u_del(x, k);
				want = added[k] ? 0 : -ENOENT;
				added[k] = false;
				break;
			default:
				res = wait0(BE_XPOLL, x, ev);
				want = res < 0 ? 0 : res;
				for (int j = 0; j < res; j++)
					if (ev[j].data.u64 >= 16 || !added[ev[j].data.u64])
						want = -1000;
				break;
			}
			if (res != want && bad++ < 5)
				TH_LOG("round %ld: key %d: %d, expected %d", rounds,
				       k, res, want);
		}
		/* the instance goes, a new one (maybe the same number) comes */
		__atomic_store_n(&xfd, xp_open(O_CLOEXEC), __ATOMIC_RELEASE);
		close(x);
		memset(added, 0, sizeof(added));
		if (xfd < 0)
			break;
	}
	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&r[i].stop, 1, __ATOMIC_RELEASE);
		pthread_join(t[i], NULL);
		TH_LOG("racer %d: %ld ok, %ld ENOENT, %ld EBADF, %ld other (%d)",
		       i, r[i].ok, r[i].enoent, r[i].ebadf, r[i].other,
		       r[i].other_err);
		EXPECT_EQ(0, r[i].other);
		EXPECT_LT(0, r[i].ok);
	}
	TH_LOG("%ld owner operations", rounds);
	EXPECT_EQ(0, bad);
	close(xfd);
}

XP_NO_HOOK
XP_MAIN
