// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics (XPOLL_FEAT_STATS, feature bit 13): XPOLL_IOC_STATS, the
 * fdinfo "id:" and "stats" lines, each item's " reported: N last_ms: M",
 * and the tracepoints under events/xpoll/ in tracefs.  xpoll only: epoll
 * has no counters.
 *
 * Every scenario is scripted so that each counter has one right value,
 * and the test asserts that value (never "at least"), in the ioctl and in
 * fdinfo's lines alike:
 *  - the struct: version 1, reserved 0, flags != 0 -> EINVAL, ids from 1,
 *    distinct, never reused, fdinfo's "id:" equal to the ioctl's;
 *  - ctl[] / ctl_errors[] by op, [0] for ops that do not exist, through
 *    XPOLL_IOC_CTL, a batch (also one that faults part-way, and headers
 *    refused with nothing applied) and a change list (CTL_WAIT), user
 *    events' TRIGGER and CLEAR included; items (a gauge) follows ADD/DEL;
 *  - waits / waits_slept / wakeups / wakeups_spurious: at once, timeout,
 *    woken by an event, ended by a signal, a spurious wakeup (a signalfd's
 *    wait queue is woken with no key for any signal sent to the process:
 *    the item is queued and the waiter woken, and the re-poll of the
 *    signalfd finds nothing), 20 rounds in which every wait that slept
 *    was woken once (wakeups == waits_slept), a minimum-count wait woken
 *    once per batch;
 *  - events by mode (LT / ET / ONESHOT, ET+ONESHOT counting as one-shot),
 *    lt_requeues, callbacks (disarmed and non-matching wakeups not
 *    counted, a wakeup of an item already queued counted), ready_max (a
 *    DEL of a ready item takes it out of the count);
 *  - the ghost event after close with dup (the item keeps reporting
 *    under the closed fd number, and its "reported:" moves by 1 a report);
 *  - herds: 8 instances on one eventfd, shared (8 callbacks, 8 wakeups)
 *    and EPOLLEXCLUSIVE (1 callback in all); 8 threads on one instance
 *    (one event wakes exactly one);
 *  - the overflow list: an event while a transfer is copying out (stalled
 *    on a userfaultfd page) counts callbacks_ovf exactly once, and the
 *    tracepoint says diverted=1;
 *  - a ring instance counts indices appended (the uapi's words), so a
 *    second event into a slot not yet harvested counts no event;
 *  - per item: "reported:" and "last_ms:" (-1 before any report, small
 *    after one, growing, never ahead of CLOCK_MONOTONIC: it counts
 *    jiffies, which a periodic tick that loses interrupts under TCG lets
 *    fall behind);
 *  - the tracepoints, through tracefs (mounted if need be, SKIP without
 *    it), every field checked, and as many events as the counters say;
 *  - as uid 65534: the ioctl and fdinfo on the user's own instance.
 * Every wait for another thread is bounded in wall time; the suite takes
 * a few seconds in the debug guest.
 */
#include "xp_test.h"
#include <limits.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/signalfd.h>

#define MS		1000000LL
#define EFD_FLAGS	(EFD_NONBLOCK | EFD_CLOEXEC)
#define NRESERVED	(sizeof(((struct xpoll_stats *)0)->reserved) / sizeof(__u64))

/* ---- helpers ---- */

static int stats_get(int x, struct xpoll_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(x, XPOLL_IOC_STATS, st) ? -errno : 0;
}

/* The counters after ctl[] and ctl_errors[], by name, for the checks. */
enum { F_WAITS, F_SLEPT, F_WAKEUPS, F_SPURIOUS, F_EVENTS, F_LT, F_ET,
       F_ONESHOT, F_CALLBACKS, F_OVF, F_REQUEUES, F_READY_MAX, F_ITEMS, NF };
#define IGN(f)	(1u << (f))

static const struct { const char *name; size_t off; } fld[NF] = {
#define FLD(e, n) [e] = { #n, offsetof(struct xpoll_stats, n) }
	FLD(F_WAITS, waits), FLD(F_SLEPT, waits_slept),
	FLD(F_WAKEUPS, wakeups), FLD(F_SPURIOUS, wakeups_spurious),
	FLD(F_EVENTS, events), FLD(F_LT, events_lt), FLD(F_ET, events_et),
	FLD(F_ONESHOT, events_oneshot), FLD(F_CALLBACKS, callbacks),
	FLD(F_OVF, callbacks_ovf), FLD(F_REQUEUES, lt_requeues),
	FLD(F_READY_MAX, ready_max), FLD(F_ITEMS, items),
#undef FLD
};

static uint64_t fval(const struct xpoll_stats *s, int f)
{
	uint64_t v;

	memcpy(&v, (const char *)s + fld[f].off, sizeof(v));
	return v;
}

/*
 * fdinfo's "id:" and five "stats" lines of instance @x, in a struct
 * xpoll_stats; returns how many of those six lines were found, or -errno.
 */
static int fdinfo_stats(int x, struct xpoll_stats *st)
{
	char path[64], line[512];
	unsigned long long v[6];
	int lines = 0;
	FILE *f;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", x);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "id: %llu", &v[0]) == 1) {
			st->id = v[0];
			lines++;
		} else if (sscanf(line, "stats ctl: add %llu del %llu mod %llu trigger %llu clear %llu other %llu",
				  &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6) {
			for (int i = 0; i < 5; i++)
				st->ctl[i + 1] = v[i];
			st->ctl[0] = v[5];
			lines++;
		} else if (sscanf(line, "stats ctl_errors: add %llu del %llu mod %llu trigger %llu clear %llu other %llu",
				  &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6) {
			for (int i = 0; i < 5; i++)
				st->ctl_errors[i + 1] = v[i];
			st->ctl_errors[0] = v[5];
			lines++;
		} else if (sscanf(line, "stats wait: waits %llu slept %llu wakeups %llu spurious %llu",
				  &v[0], &v[1], &v[2], &v[3]) == 4) {
			st->waits = v[0];
			st->waits_slept = v[1];
			st->wakeups = v[2];
			st->wakeups_spurious = v[3];
			lines++;
		} else if (sscanf(line, "stats events: events %llu lt %llu et %llu oneshot %llu requeues %llu",
				  &v[0], &v[1], &v[2], &v[3], &v[4]) == 5) {
			st->events = v[0];
			st->events_lt = v[1];
			st->events_et = v[2];
			st->events_oneshot = v[3];
			st->lt_requeues = v[4];
			lines++;
		} else if (sscanf(line, "stats callbacks: callbacks %llu ovf %llu ready_max %llu items %llu",
				  &v[0], &v[1], &v[2], &v[3]) == 4) {
			st->callbacks = v[0];
			st->callbacks_ovf = v[1];
			st->ready_max = v[2];
			st->items = v[3];
			lines++;
		}
	}
	fclose(f);
	return lines;
}

/*
 * The " reported: N last_ms: M" end of the fdinfo line of item @tfd (or,
 * with @user, of the "uev:" line of key @tfd).  0, -ENOENT (no such line)
 * or -EPROTO (a line without the fields).
 */
static int fdinfo_rep(int x, bool user, uint64_t key, unsigned int *rep,
		      long *ms)
{
	char path[64], line[512], *p;
	unsigned long long k;
	int tfd, r = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", x);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (user ? sscanf(line, "uev: %llx", &k) != 1 || k != key :
			   sscanf(line, "tfd: %d", &tfd) != 1 || tfd != (int)key)
			continue;
		p = strstr(line, " reported: ");
		r = p && sscanf(p, " reported: %u last_ms: %ld", rep, ms) == 2 ?
		    0 : -EPROTO;
		break;
	}
	fclose(f);
	return r;
}

static void expect_counters(struct __test_metadata *_metadata,
			    const struct xpoll_stats *want,
			    const struct xpoll_stats *got, unsigned int ignore,
			    const char *where, const char *src)
{
	for (int i = 0; i < XPOLL_STATS_OPS; i++) {
		EXPECT_EQ(want->ctl[i], got->ctl[i])
			TH_LOG("%s (%s): ctl[%d]", where, src, i);
		EXPECT_EQ(want->ctl_errors[i], got->ctl_errors[i])
			TH_LOG("%s (%s): ctl_errors[%d]", where, src, i);
	}
	for (int f = 0; f < NF; f++) {
		if (ignore & IGN(f))
			continue;
		EXPECT_EQ(fval(want, f), fval(got, f))
			TH_LOG("%s (%s): %s", where, src, fld[f].name);
	}
}

/*
 * Every counter of @x equals @want's (but those in @ignore), in the ioctl
 * and, with @fdinfo, in fdinfo's lines too (fdinfo takes the instance's
 * mutex: not while a transfer is stalled).  Also version and reserved.
 */
static void check_stats(struct __test_metadata *_metadata, int x,
			const struct xpoll_stats *want, unsigned int ignore,
			bool fdinfo, const char *where)
{
	struct xpoll_stats got, fi;

	ASSERT_EQ(0, stats_get(x, &got)) TH_LOG("%s", where);
	EXPECT_EQ(XPOLL_STATS_VERSION, got.version) TH_LOG("%s", where);
	for (unsigned int i = 0; i < NRESERVED; i++) {
		EXPECT_EQ(0, got.reserved[i]) TH_LOG("%s: reserved[%u]", where, i);
	}
	expect_counters(_metadata, want, &got, ignore, where, "ioctl");
	if (!fdinfo)
		return;
	ASSERT_EQ(6, fdinfo_stats(x, &fi)) TH_LOG("%s: fdinfo's id and stats lines", where);
	EXPECT_EQ(got.id, fi.id) TH_LOG("%s: fdinfo id", where);
	expect_counters(_metadata, want, &fi, ignore, where, "fdinfo");
}

/* Polls @x's counter @f until it is @v, for up to @ms; true if it came. */
static bool stats_reach(int x, int f, uint64_t v, int ms)
{
	int64_t end = now_ns() + ms * MS;
	struct xpoll_stats st;

	do {
		if (!stats_get(x, &st) && fval(&st, f) >= v)
			return fval(&st, f) == v;
		msleep(1);
	} while (now_ns() < end);
	return false;
}

/* Polls @x's counter @f until it equals @v (a gauge may go down), for up
 * to @ms: true if it does. */
static bool stats_settle(int x, int f, uint64_t v, int ms)
{
	int64_t end = now_ns() + ms * MS;
	struct xpoll_stats st;

	do {
		if (!stats_get(x, &st) && fval(&st, f) == v)
			return true;
		msleep(1);
	} while (now_ns() < end);
	return false;
}

static uint64_t stats_id(int x)
{
	struct xpoll_stats st;

	return stats_get(x, &st) ? 0 : st.id;
}

/* 0 or -errno: one change, as XPOLL_IOC_CTL makes it. */
static int ctl(int x, uint32_t op, int fd, uint32_t events, uint32_t flags,
	       uint64_t key, uint64_t data)
{
	struct xpoll_ctl c = {
		.op = op, .fd = fd, .events = events, .flags = flags,
		.key = key, .data = data,
	};

	return ioctl(x, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

#define ADD(x, fd, ev, d)	ctl(x, XPOLL_CTL_ADD, fd, ev, 0, 0, d)
#define UCTL(x, op, ev, key, d)	ctl(x, op, -1, ev, XPOLL_CTL_USER, key, d)

/* Events returned, or -errno. */
static int xwait(int x, struct epoll_event *ev, int max, int64_t timeout_ns)
{
	int r = xp_wait_raw(x, ev, max, timeout_ns, NULL);

	return r < 0 ? -errno : r;
}

static void poke(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, 8) != 8)
		abort();
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, 8) != 8)
		abort();
}

/* A descriptor number that is not open (until the next open). */
static int closed_fd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	close(fd);
	return fd;
}

/* A blocking wait in a thread of its own. */
struct waiter {
	int x;
	int max;		/* 0: 8 */
	int64_t timeout_ns;	/* 0 here means: 10 s */
	uint32_t min_events;
	bool ring;		/* a ring instance's wait: no buffer */
	struct epoll_event ev[8];
	int ret;		/* events or -errno, once done */
	pid_t tid;
	int done;
	pthread_t th;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct xpoll_wait wt = {
		.events = w->ring ? 0 : (uintptr_t)w->ev,
		.maxevents = w->max ?: 8,
		.timeout_ns = w->timeout_ns ?: 10000 * MS,
		.min_events = w->min_events,
	};
	int r;

	__atomic_store_n(&w->tid, gettid_(), __ATOMIC_RELEASE);
	r = ioctl(w->x, XPOLL_IOC_WAIT, &wt);
	w->ret = r < 0 ? -errno : r;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * wait_sleeping() with a wall-clock deadline: task @tid asleep, and still
 * asleep 20 ms later (not a page fault on the way to its wait).
 */
static bool sleeping_by(pid_t tid, int64_t end)
{
	do {
		if (task_sleeping(tid)) {
			msleep(20);
			if (task_sleeping(tid))
				return true;
		}
		msleep(1);
	} while (now_ns() < end);
	return false;
}

/* Starts the @n waiters of @w, then waits for each to sleep in its wait:
 * true if they all do (within 5 s). */
static bool waiters_start(struct waiter *w, int n)
{
	int64_t end = now_ns() + 5000 * MS;
	pid_t tid;

	for (int i = 0; i < n; i++) {
		w[i].done = 0;
		w[i].tid = 0;
		if (pthread_create(&w[i].th, NULL, waiter_fn, &w[i]))
			return false;
	}
	for (int i = 0; i < n; i++) {
		while (!(tid = __atomic_load_n(&w[i].tid, __ATOMIC_ACQUIRE)) &&
		       now_ns() < end)
			msleep(1);
		if (!tid || !sleeping_by(tid, end))
			return false;
	}
	return true;
}

static bool waiter_start(struct waiter *w)
{
	return waiters_start(w, 1);
}

static bool waiter_done(struct waiter *w)
{
	return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/* Waits up to @ms (wall time, not loop turns: TCG is slow) for @n of the
 * @nw waiters to be done; returns how many are. */
static int waiters_done(struct waiter *w, int nw, int n, int ms)
{
	int64_t end = now_ns() + ms * MS;
	int done;

	for (;;) {
		done = 0;
		for (int i = 0; i < nw; i++)
			done += waiter_done(&w[i]);
		if (done >= n || now_ns() >= end)
			return done;
		msleep(1);
	}
}

static void nop_handler(int sig)
{
	(void)sig;
}

/* A handler without SA_RESTART: a signal ends a wait with EINTR. */
static void install_nop(int sig)
{
	struct sigaction sa = { .sa_handler = nop_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* ---- tracefs ---- */

struct tracer {
	char dir[64];
	bool mounted;		/* by us: unmounted at the end */
	long tracing_on;	/* as found */
};

static int tr_write(struct tracer *t, const char *file, const char *v)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", t->dir, file);
	return write_str(p, v);
}

/* Whether the kernel knows tracefs (both guests' kernels do). */
static bool has_tracefs(void)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "\ttracefs\n") != NULL;
	fclose(f);
	return found;
}

/*
 * Enables events/xpoll/ on an empty trace: 0; 1 when tracefs cannot be
 * had here (not root, or a kernel without it: a reason in @why, the
 * caller skips); a negative errno when the kernel has tracefs but it
 * cannot be mounted, or the module's events are not there (a failure).
 */
static int trace_start(struct tracer *t, char *why, size_t len)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char p[160];
	int fd;

	memset(t, 0, sizeof(*t));
	if (geteuid()) {
		snprintf(why, len, "tracefs needs root");
		return 1;
	}
	for (unsigned int i = 0; i < 2 && !t->dir[0]; i++) {
		snprintf(p, sizeof(p), "%s/trace", dirs[i]);
		if (!access(p, F_OK))
			snprintf(t->dir, sizeof(t->dir), "%s", dirs[i]);
	}
	if (!t->dir[0]) {
		if (mount("nodev", dirs[0], "tracefs", 0, NULL)) {
			int err = errno;

			snprintf(why, len, "no tracefs: mount -t tracefs nodev %s: %s",
				 dirs[0], strerror(err));
			/* A kernel with tracefs must let root mount it. */
			return has_tracefs() ? -err : 1;
		}
		t->mounted = true;
		snprintf(t->dir, sizeof(t->dir), "%s", dirs[0]);
	}
	snprintf(p, sizeof(p), "%s/events/xpoll/enable", t->dir);
	if (access(p, W_OK)) {
		snprintf(why, len, "%s: %s", p, strerror(errno));
		return -ENOENT;
	}
	tr_write(t, "events/xpoll/enable", "0");
	snprintf(p, sizeof(p), "%s/tracing_on", t->dir);
	t->tracing_on = read_long(p);
	snprintf(p, sizeof(p), "%s/trace", t->dir);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);	/* clears it */
	if (fd >= 0)
		close(fd);
	tr_write(t, "tracing_on", "1");
	if (tr_write(t, "events/xpoll/enable", "1")) {
		snprintf(why, len, "cannot enable events/xpoll: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

/* Disables the events and returns the trace's text (free() it), or NULL. */
static char *trace_stop(struct tracer *t)
{
	size_t len = 0, cap = 1 << 16;
	char p[160], *buf = malloc(cap);
	ssize_t n;
	int fd;

	tr_write(t, "events/xpoll/enable", "0");
	snprintf(p, sizeof(p), "%s/trace", t->dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				break;
			buf = nb;
		}
	}
	buf[len] = 0;
	close(fd);
	return buf;
}

/* Clears the trace, puts tracing_on back, unmounts what we mounted. */
static void trace_cleanup(struct tracer *t)
{
	char p[160];
	int fd;

	if (!t->dir[0])
		return;
	tr_write(t, "events/xpoll/enable", "0");
	snprintf(p, sizeof(p), "%s/trace", t->dir);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	if (t->tracing_on == 0)
		tr_write(t, "tracing_on", "0");
	if (t->mounted)
		umount(t->dir);
	t->dir[0] = 0;
}

/* Lines of @text that contain @s (s may end in "\n" to match whole ends). */
static int trace_count(const char *text, const char *s)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)); p += strlen(s))
		n++;
	return n;
}

/* The xpoll lines of a trace, for a failure's log. */
static void trace_dump(struct __test_metadata *_metadata, const char *text)
{
	const char *p = text, *nl;
	int n = 0;

	while ((p = strstr(p, "xpoll_")) && n++ < 100) {
		nl = strchr(p, '\n');
		TH_LOG("trace: %.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
		if (!nl)
			break;
		p = nl + 1;
	}
}

/* ---- the struct, the id, flags ---- */

TEST(version_id_reserved_and_flags)
{
	struct xpoll_version v = { 0 };
	struct xpoll_stats st, st2, fi, zero = { 0 };
	uint64_t id1, id2, id3;
	int x, y, d;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_EQ(0, ioctl(x, XPOLL_IOC_VERSION, &v));
	ASSERT_TRUE(v.features & XPOLL_FEAT_STATS)
		TH_LOG("features 0x%llx", (unsigned long long)v.features);
	EXPECT_EQ(272, sizeof(struct xpoll_stats));
	EXPECT_EQ(sizeof(struct xpoll_stats), _IOC_SIZE(XPOLL_IOC_STATS));

	/* Every field but flags is out: garbage in, all written. */
	memset(&st, 0xa5, sizeof(st));
	st.flags = 0;
	ASSERT_EQ(0, ioctl(x, XPOLL_IOC_STATS, &st));
	EXPECT_EQ(1, st.version);
	EXPECT_EQ(XPOLL_STATS_VERSION, st.version);
	EXPECT_EQ(0, st.flags);
	EXPECT_LT(0, st.id);
	/* A fresh instance: every counter 0, reserved 0. */
	zero.id = st.id;
	zero.version = st.version;
	EXPECT_EQ(0, memcmp(&zero, &st, sizeof(st)));
	check_stats(_metadata, x, &zero, 0, true, "fresh instance");

	/* flags != 0: EINVAL, whichever bit. */
	for (int b = 0; b < 32; b++) {
		memset(&st2, 0, sizeof(st2));
		st2.flags = 1u << b;
		errno = 0;
		EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_STATS, &st2)) TH_LOG("flags bit %d", b);
		EXPECT_EQ(EINVAL, errno) TH_LOG("flags bit %d", b);
	}
	/* EFAULT for a struct that is not there. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_STATS, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* ... and reserved[] is out only: garbage there is no EINVAL. */
	memset(&st2, 0xff, sizeof(st2));
	st2.flags = 0;
	EXPECT_EQ(0, ioctl(x, XPOLL_IOC_STATS, &st2));
	for (unsigned int i = 0; i < NRESERVED; i++) {
		EXPECT_EQ(0, st2.reserved[i]);
	}

	/* fdinfo: "id:" then the five stats lines, the ioctl's id. */
	ASSERT_EQ(6, fdinfo_stats(x, &fi));
	EXPECT_EQ(st.id, fi.id);
	EXPECT_EQ(0, fdinfo_items(x));

	/* A dup is the same instance: same id. */
	ASSERT_LE(0, d = dup(x));
	EXPECT_EQ(st.id, stats_id(d));
	close(d);

	/* Ids: distinct, increasing, never reused after a close. */
	id1 = st.id;
	ASSERT_LE(0, y = xp_open(O_CLOEXEC));
	id2 = stats_id(y);
	EXPECT_LT(id1, id2);
	close(y);
	ASSERT_LE(0, y = xp_open(O_CLOEXEC));
	id3 = stats_id(y);
	EXPECT_LT(id2, id3);
	EXPECT_EQ(id1, stats_id(x));
	close(y);
	close(x);
}

/* ---- ctl[] and ctl_errors[] ---- */

/* One change through XPOLL_IOC_CTL_BATCH; results in res[]. */
static int batch(int x, struct xpoll_ctl *c, int32_t *res, uint32_t nr,
		 uint32_t flags)
{
	struct xpoll_ctl_batch b = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = nr,
		.flags = flags,
	};
	int r = ioctl(x, XPOLL_IOC_CTL_BATCH, &b);

	return r < 0 ? -errno : r;
}

static struct xpoll_ctl mkc(uint32_t op, int fd, uint32_t ev, uint32_t flags,
			    uint64_t key, uint64_t data)
{
	return (struct xpoll_ctl){ .op = op, .fd = fd, .events = ev,
				   .flags = flags, .key = key, .data = data };
}

TEST(ctl_counts_by_op_and_error)
{
	struct xpoll_stats w = { 0 }, wy = { 0 };
	struct xpoll_ctl c[8], *cc;
	struct epoll_event ev[4];
	int32_t res[8];
	int x, y, a, b, bad;
	char *pg;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, y = xp_open(O_CLOEXEC));
	ASSERT_LE(0, a = eventfd(0, EFD_FLAGS));
	ASSERT_LE(0, b = eventfd(0, EFD_FLAGS));
	bad = closed_fd();

/* One change, its expected result, and the counter it moves. */
#define STEP(call, err, op) do {					\
	EXPECT_EQ(err, call) TH_LOG("%s", #call);			\
	w.ctl[op]++;							\
	if (err)							\
		w.ctl_errors[op]++;					\
} while (0)

	STEP(ADD(x, a, EPOLLIN, 1), 0, XPOLL_CTL_ADD);
	STEP(ADD(x, a, EPOLLIN, 1), -EEXIST, XPOLL_CTL_ADD);
	STEP(ADD(x, bad, EPOLLIN, 1), -EBADF, XPOLL_CTL_ADD);
	/* A bad flags or reserved field: an error of that op. */
	STEP(ctl(x, XPOLL_CTL_ADD, b, EPOLLIN, 2, 0, 1), -EINVAL, XPOLL_CTL_ADD);
	STEP(ctl(x, XPOLL_CTL_ADD, b, EPOLLIN, 0, 5, 1), -EINVAL, XPOLL_CTL_ADD);
	STEP(ADD(x, x, EPOLLIN, 1), -EINVAL, XPOLL_CTL_ADD);
	STEP(ctl(x, XPOLL_CTL_MOD, a, EPOLLIN | EPOLLET, 0, 0, 2), 0, XPOLL_CTL_MOD);
	STEP(ctl(x, XPOLL_CTL_MOD, b, EPOLLIN, 0, 0, 2), -ENOENT, XPOLL_CTL_MOD);
	STEP(ctl(x, XPOLL_CTL_DEL, b, 0, 0, 0, 0), -ENOENT, XPOLL_CTL_DEL);
	STEP(ctl(x, XPOLL_CTL_DEL, bad, 0, 0, 0, 0), -EBADF, XPOLL_CTL_DEL);
	STEP(ctl(x, XPOLL_CTL_DEL, a, 0, 0, 0, 0), 0, XPOLL_CTL_DEL);
	/* Ops that do not exist: [0], whatever their number. */
	STEP(ctl(x, 0, a, EPOLLIN, 0, 0, 0), -EINVAL, 0);
	STEP(ctl(x, XPOLL_STATS_OPS, a, EPOLLIN, 0, 0, 0), -EINVAL, 0);
	STEP(ctl(x, 99, a, EPOLLIN, 0, 0, 0), -EINVAL, 0);
	STEP(ctl(x, UINT32_MAX, a, EPOLLIN, 0, 0, 0), -EINVAL, 0);
	STEP(ctl(x, 0x80000001u, bad, EPOLLIN, 0, 0, 0), -EBADF, 0);
	w.items = 0;	/* a added, then deleted */
	check_stats(_metadata, x, &w, 0, true, "XPOLL_IOC_CTL on files");

	/*
	 * TRIGGER and CLEAR without XPOLL_CTL_USER: the uapi refuses them
	 * "as unknown ops"; they keep their own index (ops 4 and 5 exist).
	 */
	STEP(ctl(x, XPOLL_CTL_TRIGGER, a, EPOLLIN, 0, 0, 0), -EINVAL, XPOLL_CTL_TRIGGER);
	STEP(ctl(x, XPOLL_CTL_CLEAR, bad, EPOLLIN, 0, 0, 0), -EBADF, XPOLL_CTL_CLEAR);
	check_stats(_metadata, x, &w, 0, true, "TRIGGER/CLEAR without XPOLL_CTL_USER");

	/* User events: ADD/MOD/DEL, TRIGGER/CLEAR, each ok and failing. */
	STEP(UCTL(x, XPOLL_CTL_ADD, EPOLLIN, 7, 70), 0, XPOLL_CTL_ADD);
	STEP(UCTL(x, XPOLL_CTL_ADD, EPOLLIN, 7, 70), -EEXIST, XPOLL_CTL_ADD);
	STEP(UCTL(x, XPOLL_CTL_MOD, EPOLLIN, 7, 71), 0, XPOLL_CTL_MOD);
	STEP(UCTL(x, XPOLL_CTL_MOD, EPOLLIN, 8, 71), -ENOENT, XPOLL_CTL_MOD);
	STEP(UCTL(x, XPOLL_CTL_TRIGGER, EPOLLIN, 7, 0), 0, XPOLL_CTL_TRIGGER);
	w.callbacks++;		/* the trigger queued it */
	w.ready_max = 1;
	STEP(UCTL(x, XPOLL_CTL_TRIGGER, EPOLLIN, 8, 0), -ENOENT, XPOLL_CTL_TRIGGER);
	STEP(UCTL(x, XPOLL_CTL_TRIGGER, 0, 7, 0), -EINVAL, XPOLL_CTL_TRIGGER);
	STEP(UCTL(x, XPOLL_CTL_CLEAR, EPOLLIN, 7, 0), 0, XPOLL_CTL_CLEAR);
	STEP(UCTL(x, XPOLL_CTL_CLEAR, EPOLLIN, 8, 0), -ENOENT, XPOLL_CTL_CLEAR);
	STEP(UCTL(x, 0, EPOLLIN, 7, 0), -EINVAL, 0);
	STEP(UCTL(x, 77, EPOLLIN, 7, 0), -EINVAL, 0);
	/* A trigger of another instance's event: x made the change, y had
	 * the callback. */
	ASSERT_EQ(0, UCTL(y, XPOLL_CTL_ADD, EPOLLIN | EPOLLET, 9, 90));
	wy.ctl[XPOLL_CTL_ADD] = 1;
	wy.items = 1;
	w.items = 1;	/* user event 7 */
	STEP(ctl(x, XPOLL_CTL_TRIGGER, y, EPOLLIN, XPOLL_CTL_USER, 9, 0), 0, XPOLL_CTL_TRIGGER);
	STEP(ctl(x, XPOLL_CTL_TRIGGER, a, EPOLLIN, XPOLL_CTL_USER, 9, 0), -EINVAL, XPOLL_CTL_TRIGGER);
	wy.callbacks = 1;
	wy.ready_max = 1;
	check_stats(_metadata, x, &w, 0, true, "user events");
	check_stats(_metadata, y, &wy, 0, true, "the other instance");

	/* A batch: each change counted as if alone. */
	c[0] = mkc(XPOLL_CTL_ADD, a, EPOLLIN, 0, 0, 1);
	c[1] = mkc(XPOLL_CTL_ADD, a, EPOLLIN, 0, 0, 1);
	c[2] = mkc(XPOLL_CTL_MOD, a, EPOLLIN, 0, 0, 2);
	c[3] = mkc(XPOLL_CTL_DEL, b, 0, 0, 0, 0);
	c[4] = mkc(9, a, EPOLLIN, 0, 0, 0);
	c[5] = mkc(XPOLL_CTL_TRIGGER, -1, EPOLLIN, XPOLL_CTL_USER, 7, 0);
	c[6] = mkc(XPOLL_CTL_CLEAR, -1, EPOLLIN, XPOLL_CTL_USER, 7, 0);
	c[7] = mkc(XPOLL_CTL_TRIGGER, -1, EPOLLIN, XPOLL_CTL_USER, 99, 0);
	ASSERT_EQ(8, batch(x, c, res, 8, 0));
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(-EEXIST, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(-ENOENT, res[3]);
	EXPECT_EQ(-EINVAL, res[4]);
	EXPECT_EQ(0, res[5]);
	EXPECT_EQ(0, res[6]);
	EXPECT_EQ(-ENOENT, res[7]);
	w.ctl[XPOLL_CTL_ADD] += 2;
	w.ctl_errors[XPOLL_CTL_ADD]++;
	w.ctl[XPOLL_CTL_MOD]++;
	w.ctl[XPOLL_CTL_DEL]++;
	w.ctl_errors[XPOLL_CTL_DEL]++;
	w.ctl[0]++;
	w.ctl_errors[0]++;
	w.ctl[XPOLL_CTL_TRIGGER] += 2;
	w.ctl_errors[XPOLL_CTL_TRIGGER]++;
	w.ctl[XPOLL_CTL_CLEAR]++;
	w.callbacks++;	/* c[5]: matched (already queued: still counted) */
	w.items = 2;	/* a again */
	check_stats(_metadata, x, &w, 0, true, "batch of 8");

	/* A header refused: nothing applied, nothing counted. */
	EXPECT_EQ(-EINVAL, batch(x, c, res, 0, 0));
	EXPECT_EQ(-EINVAL, batch(x, c, res, 8, 1));
	EXPECT_EQ(-EINVAL, batch(x, c, res, XPOLL_CTL_BATCH_MAX + 1, 0));
	check_stats(_metadata, x, &w, 0, true, "refused batches");

	/* A batch that faults at ctls[2]: the two before it counted. */
	pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pg);
	ASSERT_EQ(0, mprotect(pg + 4096, 4096, PROT_NONE));
	cc = (struct xpoll_ctl *)(pg + 4096 - 2 * sizeof(*cc));
	cc[0] = mkc(XPOLL_CTL_MOD, a, EPOLLIN, 0, 0, 3);
	cc[1] = mkc(XPOLL_CTL_DEL, b, 0, 0, 0, 0);
	EXPECT_EQ(2, batch(x, cc, res, 4, 0));
	w.ctl[XPOLL_CTL_MOD]++;
	w.ctl[XPOLL_CTL_DEL]++;
	w.ctl_errors[XPOLL_CTL_DEL]++;
	munmap(pg, 8192);
	check_stats(_metadata, x, &w, 0, true, "batch faulting at ctls[2]");

	/* ctl+wait: each change, then one wait. */
	{
		struct xpoll_ctl_wait cw = { 0 };

		c[0] = mkc(XPOLL_CTL_MOD, a, EPOLLIN | EPOLLET, 0, 0, 4);
		c[1] = mkc(XPOLL_CTL_DEL, a, 0, 0, 0, 0);
		c[2] = mkc(XPOLL_CTL_DEL, a, 0, 0, 0, 0);
		cw.ctls = (uintptr_t)c;
		cw.results = (uintptr_t)res;
		cw.nr = 2;
		cw.wait.events = (uintptr_t)ev;
		cw.wait.maxevents = 4;
		cw.wait.timeout_ns = 0;
		/* The user event: triggered, queued, cleared: nothing to report. */
		EXPECT_EQ(0, ioctl(x, XPOLL_IOC_CTL_WAIT, &cw));
		EXPECT_EQ(2, cw.nr_done);
		w.ctl[XPOLL_CTL_MOD]++;
		w.ctl[XPOLL_CTL_DEL]++;
		w.waits++;
		w.items = 1;
		check_stats(_metadata, x, &w, 0, true, "CTL_WAIT of 2");

		/* A failing change makes a 10 s wait a poll: counted, not slept. */
		cw.ctls = (uintptr_t)&c[2];
		cw.wait.timeout_ns = 10000 * MS;
		cw.nr = 1;
		EXPECT_EQ(0, ioctl(x, XPOLL_IOC_CTL_WAIT, &cw));
		EXPECT_EQ(-ENOENT, res[0]);
		w.ctl[XPOLL_CTL_DEL]++;
		w.ctl_errors[XPOLL_CTL_DEL]++;
		w.waits++;
		check_stats(_metadata, x, &w, 0, true, "CTL_WAIT with a failed change");

		/* Refused (wait.flags): nothing applied, no wait counted. */
		cw.wait.flags = 1;
		errno = 0;
		EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_CTL_WAIT, &cw));
		EXPECT_EQ(EINVAL, errno);
		/* nr 0: a wait alone. */
		cw.wait.flags = 0;
		cw.wait.timeout_ns = 0;
		cw.nr = 0;
		EXPECT_EQ(0, ioctl(x, XPOLL_IOC_CTL_WAIT, &cw));
		w.waits++;
		check_stats(_metadata, x, &w, 0, true, "CTL_WAIT refused, then nr 0");
	}
	/* A refused XPOLL_IOC_WAIT is no wait either. */
	{
		struct xpoll_wait wt = { .events = (uintptr_t)ev, .maxevents = 0 };

		EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_WAIT, &wt));
		wt.maxevents = 4;
		wt.flags = 1;
		EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_WAIT, &wt));
	}
	check_stats(_metadata, x, &w, 0, true, "refused waits");
#undef STEP
	close(a);
	close(b);
	close(y);
	close(x);
}

/* ---- waits, waits_slept, wakeups, wakeups_spurious ---- */

TEST(waits_wakeups_and_a_spurious_wakeup)
{
	struct xpoll_stats w = { 0 };
	struct epoll_event ev[4];
	struct waiter t = { 0 };
	sigset_t rt, old, usr2;
	siginfo_t si;
	struct timespec zero = { 0, 0 };
	int x, e, s;

	XP_REQUIRE(BE_XPOLL);
	install_nop(SIGUSR1);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, e = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, e, EPOLLIN, 1));
	w.ctl[XPOLL_CTL_ADD] = 1;
	w.items = 1;

	/* Nothing ready, timeout 0: a wait that did not sleep. */
	EXPECT_EQ(0, xwait(x, ev, 4, 0));
	w.waits = 1;
	check_stats(_metadata, x, &w, 0, true, "timeout 0, nothing ready");

	/* Ready: returns at once (timeout 0, then forever). */
	poke(e);
	w.callbacks = 1;
	w.ready_max = 1;
	EXPECT_EQ(1, xwait(x, ev, 4, 0));
	EXPECT_EQ(1, xwait(x, ev, 4, -1));
	w.waits = 3;
	w.events = w.events_lt = w.lt_requeues = 2;
	check_stats(_metadata, x, &w, 0, true, "two waits returning at once");

	/* A timeout: slept, not woken. */
	drain(e);		/* EPOLLOUT: no match, no callback */
	EXPECT_EQ(0, xwait(x, ev, 4, 20 * MS));
	w.waits = 4;
	w.waits_slept = 1;
	check_stats(_metadata, x, &w, 0, true, "a wait that timed out");

	/* Woken by an event: one wakeup, not spurious. */
	t.x = x;
	ASSERT_TRUE(waiter_start(&t));
	poke(e);
	pthread_join(t.th, NULL);
	EXPECT_EQ(1, t.ret);
	EXPECT_EQ(1, t.ev[0].data.u64);
	w.waits = 5;
	w.waits_slept = 2;
	w.wakeups = 1;
	w.callbacks = 2;
	w.events = w.events_lt = w.lt_requeues = 3;
	check_stats(_metadata, x, &w, 0, true, "a wait woken by an event");

	/* Ended by a signal: slept, EINTR, no wakeup counted. */
	drain(e);
	ASSERT_TRUE(waiter_start(&t));
	pthread_kill(t.th, SIGUSR1);
	pthread_join(t.th, NULL);
	EXPECT_EQ(-EINTR, t.ret);
	w.waits = 6;
	w.waits_slept = 3;
	check_stats(_metadata, x, &w, 0, true, "a wait ended by a signal");

	/*
	 * A spurious wakeup.  signalfd's wait queue is woken without a key
	 * for every signal sent to the process (signalfd_notify()): the
	 * item matches (no key: assumed), is queued and wakes the waiter,
	 * whose re-poll of the signalfd (for SIGUSR2, never sent) finds
	 * nothing.  The signal sent, SIGRTMIN, is blocked in every thread
	 * and aimed at this one: it never interrupts the waiter.
	 */
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	ASSERT_EQ(0, pthread_sigmask(SIG_BLOCK, &rt, &old));
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	ASSERT_LE(0, s = signalfd(-1, &usr2, SFD_NONBLOCK | SFD_CLOEXEC));
	ASSERT_EQ(0, ADD(x, s, EPOLLIN, 2));
	w.ctl[XPOLL_CTL_ADD] = 2;
	w.items = 2;
	ASSERT_TRUE(waiter_start(&t));	/* inherits the blocked SIGRTMIN */
	ASSERT_EQ(0, syscall(SYS_tgkill, getpid(), gettid_(), SIGRTMIN));
	EXPECT_TRUE(stats_reach(x, F_SPURIOUS, 1, 5000));
	EXPECT_TRUE(sleeping_by(t.tid, now_ns() + 5000 * MS))
		TH_LOG("the waiter did not sleep again");
	EXPECT_FALSE(waiter_done(&t));
	w.callbacks = 3;
	w.wakeups = 2;
	w.wakeups_spurious = 1;
	/* waits counted at the start, waits_slept at the end */
	w.waits = 7;
	check_stats(_metadata, x, &w, 0, true, "after the spurious wakeup");
	/* ... and the same wait then woken for real. */
	poke(e);
	pthread_join(t.th, NULL);
	EXPECT_EQ(1, t.ret);
	EXPECT_EQ(1, t.ev[0].data.u64);
	w.callbacks = 4;
	w.wakeups = 3;
	w.waits_slept = 4;
	w.events = w.events_lt = w.lt_requeues = 4;
	check_stats(_metadata, x, &w, 0, true, "the spurious wait's real wakeup");
	/* The signal is still pending here: take it. */
	EXPECT_EQ(SIGRTMIN, sigtimedwait(&rt, &si, &zero));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(s);
	close(e);
	close(x);
}

/*
 * Every wakeup is counted.  One thread makes ROUNDS blocking waits on an
 * edge-triggered eventfd that nobody reads; the test writes once per round,
 * a moment after the thread announced its next wait.  Each wait either
 * found the event at once (no sleep, no wakeup) or slept and was woken by
 * it, once: so wakeups == waits_slept exactly, and none is spurious.  (A
 * wakeup is missed when the woken waiter runs before its waker has taken
 * its entry off the queue, if the waiter tells a wakeup by that.)
 */
#define ROUNDS 20
struct rounds {
	int x, go[2];
	int ok;
};

static void *rounds_fn(void *arg)
{
	struct rounds *r = arg;
	struct epoll_event ev[2];

	for (int i = 0; i < ROUNDS; i++) {
		if (write(r->go[1], "r", 1) != 1)
			break;
		if (xwait(r->x, ev, 2, 10000 * MS) == 1)
			r->ok++;
	}
	return NULL;
}

TEST(every_wakeup_counted)
{
	struct rounds r = { 0 };
	struct xpoll_stats st;
	pthread_t th;
	int e;
	char c;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, r.x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, e = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, pipe2(r.go, O_CLOEXEC));
	ASSERT_EQ(0, ADD(r.x, e, EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(0, pthread_create(&th, NULL, rounds_fn, &r));
	for (int i = 0; i < ROUNDS; i++) {
		ASSERT_EQ(1, read(r.go[0], &c, 1));
		msleep(3);	/* most rounds: the waiter is asleep by now */
		poke(e);
	}
	pthread_join(th, NULL);
	EXPECT_EQ(ROUNDS, r.ok);
	ASSERT_EQ(0, stats_get(r.x, &st));
	EXPECT_EQ(ROUNDS, st.waits);
	EXPECT_EQ(ROUNDS, st.callbacks);
	EXPECT_EQ(ROUNDS, st.events);
	EXPECT_EQ(0, st.wakeups_spurious);
	EXPECT_EQ(st.waits_slept, st.wakeups)
		TH_LOG("%llu waits slept, %llu wakeups counted",
		       (unsigned long long)st.waits_slept,
		       (unsigned long long)st.wakeups);
	/* Not the point, but without sleeps the test proves nothing. */
	EXPECT_LE(ROUNDS / 2, st.waits_slept);
	close(r.go[0]);
	close(r.go[1]);
	close(e);
	close(r.x);
}

/* A minimum-count wait sleeps through its batch: one wakeup for 3 events. */
TEST(min_wait_batch_is_one_wakeup)
{
	struct xpoll_stats w = { 0 };
	struct waiter t = { 0 };
	int x, e[3];

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	for (int i = 0; i < 3; i++) {
		ASSERT_LE(0, e[i] = eventfd(0, EFD_FLAGS));
		ASSERT_EQ(0, ADD(x, e[i], EPOLLIN | EPOLLET, i));
	}
	w.ctl[XPOLL_CTL_ADD] = 3;
	w.items = 3;
	t.x = x;
	t.min_events = 3;
	ASSERT_TRUE(waiter_start(&t));
	for (int i = 0; i < 3; i++)
		poke(e[i]);
	pthread_join(t.th, NULL);
	EXPECT_EQ(3, t.ret);
	w.waits = w.waits_slept = w.wakeups = 1;
	w.callbacks = 3;
	w.events = w.events_et = 3;
	/* The sleeper is not woken before the third: all 3 queued at once. */
	w.ready_max = 3;
	check_stats(_metadata, x, &w, 0, true, "min_events 3");
	for (int i = 0; i < 3; i++)
		close(e[i]);
	close(x);
}

/* ---- events by mode, lt_requeues, callbacks, per-item reports ---- */

TEST(events_by_mode_and_lt_requeues)
{
	struct xpoll_stats w = { 0 };
	struct epoll_event ev[8];
	int x, l, t, o, p;
	unsigned int rep;
	long ms;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, l = eventfd(0, EFD_FLAGS));
	ASSERT_LE(0, t = eventfd(0, EFD_FLAGS));
	ASSERT_LE(0, o = eventfd(0, EFD_FLAGS));
	ASSERT_LE(0, p = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, l, EPOLLIN, 'l'));
	ASSERT_EQ(0, ADD(x, t, EPOLLIN | EPOLLET, 't'));
	ASSERT_EQ(0, ADD(x, o, EPOLLIN | EPOLLONESHOT, 'o'));
	w.ctl[XPOLL_CTL_ADD] = 3;
	w.items = 3;

	/* 1. One event each. */
	poke(l);
	poke(t);
	poke(o);
	w.callbacks = 3;
	w.ready_max = 3;
	EXPECT_EQ(3, xwait(x, ev, 8, 0));
	w.waits = 1;
	w.events = 3;
	w.events_lt = w.events_et = w.events_oneshot = 1;
	w.lt_requeues = 1;
	check_stats(_metadata, x, &w, 0, true, "one event of each mode");

	/* 2. Only the level-triggered one again, requeued again. */
	EXPECT_EQ(1, xwait(x, ev, 8, 0));
	EXPECT_EQ('l', ev[0].data.u64);
	w.waits = 2;
	w.events = 4;
	w.events_lt = 2;
	w.lt_requeues = 2;
	check_stats(_metadata, x, &w, 0, true, "LT reported again");

	/* 3. Drained: the re-poll drops it, no event, no requeue. */
	drain(l);
	EXPECT_EQ(0, xwait(x, ev, 8, 0));
	w.waits = 3;
	check_stats(_metadata, x, &w, 0, true, "LT drained");

	/* 4. ET again on a new write. */
	poke(t);
	EXPECT_EQ(1, xwait(x, ev, 8, 0));
	EXPECT_EQ('t', ev[0].data.u64);
	w.callbacks = 4;
	w.waits = 4;
	w.events = 5;
	w.events_et = 2;
	check_stats(_metadata, x, &w, 0, true, "ET second edge");

	/* 5. A disarmed one-shot: its wakeup is no callback, no event. */
	poke(o);
	EXPECT_EQ(0, xwait(x, ev, 8, 0));
	w.waits = 5;
	check_stats(_metadata, x, &w, 0, true, "one-shot disarmed");

	/* 6. MOD re-arms it and finds it ready: an event, no callback. */
	ASSERT_EQ(0, ctl(x, XPOLL_CTL_MOD, o, EPOLLIN | EPOLLONESHOT, 0, 0, 'o'));
	w.ctl[XPOLL_CTL_MOD] = 1;
	EXPECT_EQ(1, xwait(x, ev, 8, 0));
	EXPECT_EQ('o', ev[0].data.u64);
	w.waits = 6;
	w.events = 6;
	w.events_oneshot = 2;
	check_stats(_metadata, x, &w, 0, true, "one-shot re-armed by MOD");

	/* 7. EPOLLET | EPOLLONESHOT counts as one-shot. */
	ASSERT_EQ(0, ADD(x, p, EPOLLIN | EPOLLET | EPOLLONESHOT, 'p'));
	w.ctl[XPOLL_CTL_ADD] = 4;
	w.items = 4;
	poke(p);
	EXPECT_EQ(1, xwait(x, ev, 8, 0));
	w.callbacks = 5;
	w.waits = 7;
	w.events = 7;
	w.events_oneshot = 3;
	check_stats(_metadata, x, &w, 0, true, "ET|ONESHOT");

	/* 8. maxevents 1 with two LT items ready: one event, one requeue. */
	poke(l);
	ASSERT_EQ(0, ctl(x, XPOLL_CTL_MOD, t, EPOLLIN, 0, 0, 't'));	/* LT now */
	w.ctl[XPOLL_CTL_MOD] = 2;
	w.callbacks = 6;
	EXPECT_EQ(1, xwait(x, ev, 1, 0));
	w.waits = 8;
	w.events = 8;
	w.events_lt = 3;
	w.lt_requeues = 3;
	check_stats(_metadata, x, &w, 0, true, "maxevents 1, two ready");

	/* Per item: l 3, t 2, o 2, p 1. */
	/* maxevents 1 took the first queued: l (its callback came before
	 * the MOD queued t). */
	EXPECT_EQ('l', ev[0].data.u64);
	ASSERT_EQ(0, fdinfo_rep(x, false, l, &rep, &ms));
	EXPECT_EQ(3, rep);
	ASSERT_EQ(0, fdinfo_rep(x, false, t, &rep, &ms));
	EXPECT_EQ(2, rep);
	ASSERT_EQ(0, fdinfo_rep(x, false, o, &rep, &ms));
	EXPECT_EQ(2, rep);
	ASSERT_EQ(0, fdinfo_rep(x, false, p, &rep, &ms));
	EXPECT_EQ(1, rep);
	close(l);
	close(t);
	close(o);
	close(p);
	close(x);
}

TEST(callbacks_and_ready_max)
{
	enum { N = 5 };
	struct xpoll_stats w = { 0 };
	struct epoll_event ev[16];
	int x, e[N], f1, f2;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	for (int i = 0; i < N; i++) {
		ASSERT_LE(0, e[i] = eventfd(0, EFD_FLAGS));
		ASSERT_EQ(0, ADD(x, e[i], EPOLLIN, i));
	}
	w.ctl[XPOLL_CTL_ADD] = N;
	w.items = N;
	check_stats(_metadata, x, &w, 0, true, "nothing ready");

	/* N items made ready before any wait: ready_max N. */
	for (int i = 0; i < N; i++)
		poke(e[i]);
	w.callbacks = N;
	w.ready_max = N;
	check_stats(_metadata, x, &w, 0, true, "N ready");

	/* Wakeups of items already queued: callbacks, not more ready. */
	for (int i = 0; i < N; i++)
		poke(e[i]);
	w.callbacks = 2 * N;
	check_stats(_metadata, x, &w, 0, true, "N ready, written again");

	/* A wakeup outside the interest set (a read wakes EPOLLOUT): none. */
	drain(e[1]);
	poke(e[1]);
	w.callbacks = 2 * N + 1;
	check_stats(_metadata, x, &w, 0, true, "EPOLLOUT wakeup not counted");

	/*
	 * DEL of a ready item takes it out of the count: one more ready item
	 * makes N again (no new high), a second one N + 1.
	 */
	ASSERT_EQ(0, ctl(x, XPOLL_CTL_DEL, e[0], 0, 0, 0, 0));
	w.ctl[XPOLL_CTL_DEL] = 1;
	ASSERT_LE(0, f1 = eventfd(1, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, f1, EPOLLIN, 10));	/* ready at ADD: no callback */
	w.ctl[XPOLL_CTL_ADD]++;
	check_stats(_metadata, x, &w, 0, true, "DEL of a ready item, ADD of one");
	ASSERT_LE(0, f2 = eventfd(1, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, f2, EPOLLIN, 11));
	w.ctl[XPOLL_CTL_ADD]++;
	w.items = N + 1;
	w.ready_max = N + 1;
	check_stats(_metadata, x, &w, 0, true, "N + 1 ready");

	/* A wait of all of them: each LT one back, no new high. */
	EXPECT_EQ(N + 1, xwait(x, ev, 16, 0));
	w.waits = 1;
	w.events = w.events_lt = w.lt_requeues = N + 1;
	check_stats(_metadata, x, &w, 0, true, "all delivered and requeued");

	/* Drained, a wait drops them all; then 3 ready: still N + 1. */
	for (int i = 1; i < N; i++)
		drain(e[i]);
	drain(f1);
	drain(f2);
	EXPECT_EQ(0, xwait(x, ev, 16, 0));
	for (int i = 1; i <= 3; i++)
		poke(e[i]);
	w.waits = 2;
	w.callbacks += 3;
	check_stats(_metadata, x, &w, 0, true, "drained, then 3 ready");
	EXPECT_EQ(3, xwait(x, ev, 16, 0));
	w.waits = 3;
	w.events = w.events_lt = w.lt_requeues = N + 4;
	check_stats(_metadata, x, &w, 0, true, "the 3 delivered");

	for (int i = 0; i < N; i++)
		close(e[i]);
	close(f1);
	close(f2);
	close(x);
}

/* ---- per item: reported and last_ms ---- */

TEST(item_reported_and_last_ms)
{
	struct epoll_event ev[4];
	unsigned int rep;
	long ms, elapsed;
	int64_t t0;
	int x, e;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, e = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, e, EPOLLIN, 1));
	ASSERT_EQ(0, UCTL(x, XPOLL_CTL_ADD, EPOLLIN | EPOLLET, 0x42, 2));

	/* Before any report: 0 and -1. */
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(0, rep);
	EXPECT_EQ(-1, ms);
	ASSERT_EQ(0, fdinfo_rep(x, true, 0x42, &rep, &ms));
	EXPECT_EQ(0, rep);
	EXPECT_EQ(-1, ms);

	/* One report: 1, and a few ms ago. */
	poke(e);
	EXPECT_EQ(1, xwait(x, ev, 4, 0));
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(1, rep);
	EXPECT_LE(0, ms);
	EXPECT_GT(1000, ms) TH_LOG("last_ms %ld right after the report", ms);
	ASSERT_EQ(0, fdinfo_rep(x, true, 0x42, &rep, &ms));
	EXPECT_EQ(0, rep);
	EXPECT_EQ(-1, ms);

	/* LT again, and the user event's trigger: 2 and 1. */
	ASSERT_EQ(0, UCTL(x, XPOLL_CTL_TRIGGER, EPOLLIN, 0x42, 0));
	t0 = now_ns();
	EXPECT_EQ(2, xwait(x, ev, 4, 0));
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(2, rep);
	ASSERT_EQ(0, fdinfo_rep(x, true, 0x42, &rep, &ms));
	EXPECT_EQ(1, rep);
	EXPECT_LE(0, ms);
	EXPECT_GT(1000, ms);

	/*
	 * last_ms grows with time, and is never ahead of the clock: 300 ms
	 * later it is at least one tick, and at most the time measured since
	 * before the report plus a tick (rounding).  Not "about 300": it
	 * counts jiffies, and a guest whose periodic tick loses interrupts
	 * (the debug kernel under TCG on a loaded host) counts fewer.
	 */
	drain(e);
	EXPECT_EQ(0, xwait(x, ev, 4, 0));	/* drops the LT item */
	msleep(300);
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	elapsed = (now_ns() - t0) / MS;
	EXPECT_EQ(2, rep);
	EXPECT_LE(4, ms) TH_LOG("last_ms %ld, %ld ms after", ms, elapsed);
	/* Two ticks at 100 Hz: jiffies of the report, and of the read. */
	EXPECT_GE(elapsed + 20, ms) TH_LOG("last_ms %ld, %ld ms after", ms, elapsed);
	TH_LOG("last_ms %ld, %ld ms (CLOCK_MONOTONIC) after the report", ms, elapsed);

	/* MOD keeps the item's count; DEL and ADD starts a new item. */
	ASSERT_EQ(0, UCTL(x, XPOLL_CTL_MOD, EPOLLIN | EPOLLET, 0x42, 3));
	ASSERT_EQ(0, fdinfo_rep(x, true, 0x42, &rep, &ms));
	EXPECT_EQ(1, rep);
	ASSERT_EQ(0, ctl(x, XPOLL_CTL_MOD, e, EPOLLIN | EPOLLET, 0, 0, 4));
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(2, rep);
	ASSERT_EQ(0, ctl(x, XPOLL_CTL_DEL, e, 0, 0, 0, 0));
	EXPECT_EQ(-ENOENT, fdinfo_rep(x, false, e, &rep, &ms));
	ASSERT_EQ(0, ADD(x, e, EPOLLIN, 5));
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(0, rep);
	EXPECT_EQ(-1, ms);
	close(e);
	close(x);
}

/* ---- the ghost event after close with dup ---- */

TEST(ghost_event_after_close_with_dup)
{
	struct xpoll_stats w = { 0 }, st;
	struct epoll_event ev[4];
	struct xpoll_stats fi;
	unsigned int rep;
	int64_t t0;
	long ms;
	int x, a, b;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, a = eventfd(0, EFD_FLAGS));
	ASSERT_LE(0, b = dup(a));
	ASSERT_EQ(0, ADD(x, a, EPOLLIN | EPOLLET, 0xA));
	w.ctl[XPOLL_CTL_ADD] = 1;
	w.items = 1;
	ASSERT_EQ(0, fdinfo_rep(x, false, a, &rep, &ms));
	EXPECT_EQ(0, rep);
	EXPECT_EQ(-1, ms);

	/* The item is keyed by (file, fd a): it outlives fd a. */
	close(a);
	EXPECT_EQ(1, fdinfo_items(x));
	for (unsigned int i = 1; i <= 3; i++) {
		poke(b);
		ASSERT_EQ(1, xwait(x, ev, 4, 0)) TH_LOG("ghost report %u", i);
		EXPECT_EQ(0xA, ev[0].data.u64);
		EXPECT_EQ(EPOLLIN, ev[0].events);
		w.callbacks = w.events = w.events_et = i;
		w.waits = i;
		w.ready_max = 1;
		check_stats(_metadata, x, &w, 0, true, "ghost report");
		ASSERT_EQ(0, fdinfo_rep(x, false, a, &rep, &ms))
			TH_LOG("the item of closed fd %d is not in fdinfo", a);
		EXPECT_EQ(i, rep);
		EXPECT_LE(0, ms);
		EXPECT_GT(1000, ms);
	}
	/* It cannot be removed by either number (literature's trap). */
	EXPECT_EQ(-EBADF, ctl(x, XPOLL_CTL_DEL, a, 0, 0, 0, 0));
	EXPECT_EQ(-ENOENT, ctl(x, XPOLL_CTL_DEL, b, 0, 0, 0, 0));
	w.ctl[XPOLL_CTL_DEL] = w.ctl_errors[XPOLL_CTL_DEL] = 2;
	check_stats(_metadata, x, &w, 0, true, "DEL by a, by b");

	/* fdinfo's id is the ioctl's. */
	ASSERT_EQ(0, stats_get(x, &st));
	ASSERT_EQ(6, fdinfo_stats(x, &fi));
	EXPECT_EQ(st.id, fi.id);

	/*
	 * The last close takes the item: fdinfo lists it no more at once,
	 * no more reports, counters stay.  items, "items now", counts it
	 * until the instance's reap work has removed it (asynchronous, but
	 * queued by the close with no delay): give it 2 s.
	 */
	close(b);
	t0 = now_ns();
	EXPECT_EQ(0, fdinfo_items(x));
	EXPECT_EQ(0, xwait(x, ev, 4, 0));
	EXPECT_TRUE(stats_settle(x, F_ITEMS, 0, 2000));
	TH_LOG("items 0 %lld us after the last close",
	       (long long)(now_ns() - t0) / 1000);
	w.waits++;
	w.items = 0;
	check_stats(_metadata, x, &w, 0, true, "after the last close");
	close(x);
}

/* ---- herds ---- */

#define NH 8

/*
 * NH instances, each with a thread asleep in it, all watching one eventfd
 * with @mode; one write.  Returns through the counters.
 */
static void herd_of_instances(struct __test_metadata *_metadata,
			      uint32_t mode)
{
	struct waiter w[NH];
	struct xpoll_stats st[NH];
	uint64_t cb = 0, wk = 0;
	int efd, done = 0, winner = -1;

	install_nop(SIGUSR1);
	ASSERT_LE(0, efd = eventfd(0, EFD_FLAGS));
	for (int i = 0; i < NH; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		ASSERT_LE(0, w[i].x = xp_open(O_CLOEXEC));
		ASSERT_EQ(0, ADD(w[i].x, efd, EPOLLIN | mode, i));
	}
	ASSERT_TRUE(waiters_start(w, NH)) TH_LOG("a waiter did not sleep");
	poke(efd);

	if (!mode) {
		/* Each instance: its callback, its waiter woken, its event. */
		for (int i = 0; i < NH; i++) {
			struct xpoll_stats want = { 0 };
			char where[64];

			pthread_join(w[i].th, NULL);
			EXPECT_EQ(1, w[i].ret) TH_LOG("instance %d", i);
			want.ctl[XPOLL_CTL_ADD] = 1;
			want.items = 1;
			want.waits = want.waits_slept = want.wakeups = 1;
			want.callbacks = want.events = want.events_lt = 1;
			want.lt_requeues = want.ready_max = 1;
			snprintf(where, sizeof(where), "shared herd, instance %d", i);
			check_stats(_metadata, w[i].x, &want, 0, true, where);
		}
	} else {
		/* One callback in all; the others stay asleep. */
		waiters_done(w, NH, 1, 5000);
		msleep(200);
		for (int i = 0; i < NH; i++) {
			if (waiter_done(&w[i])) {
				done++;
				winner = i;
			}
			ASSERT_EQ(0, stats_get(w[i].x, &st[i]));
			cb += st[i].callbacks;
			wk += st[i].wakeups;
		}
		EXPECT_EQ(1, done) TH_LOG("%d of %d exclusive waiters returned", done, NH);
		EXPECT_EQ(1, cb) TH_LOG("callbacks in all");
		EXPECT_EQ(1, wk) TH_LOG("wakeups in all");
		if (winner >= 0) {
			EXPECT_EQ(1, st[winner].callbacks);
			EXPECT_EQ(1, st[winner].wakeups);
			EXPECT_EQ(1, st[winner].events);
		}
		for (int i = 0; i < NH; i++)
			if (i != winner)
				pthread_kill(w[i].th, SIGUSR1);
		for (int i = 0; i < NH; i++) {
			struct xpoll_stats want = { 0 };
			char where[64];

			pthread_join(w[i].th, NULL);
			want.ctl[XPOLL_CTL_ADD] = 1;
			want.items = 1;
			want.waits = want.waits_slept = 1;
			if (i == winner) {
				EXPECT_EQ(1, w[i].ret);
				want.wakeups = want.callbacks = 1;
				want.events = want.events_lt = 1;
				want.lt_requeues = want.ready_max = 1;
			} else {
				EXPECT_EQ(-EINTR, w[i].ret) TH_LOG("instance %d", i);
			}
			snprintf(where, sizeof(where), "exclusive herd, instance %d%s",
				 i, i == winner ? " (woken)" : "");
			check_stats(_metadata, w[i].x, &want, 0, true, where);
		}
	}
	for (int i = 0; i < NH; i++)
		close(w[i].x);
	close(efd);
}

TEST(herd_of_8_instances_shared)
{
	XP_REQUIRE(BE_XPOLL);
	herd_of_instances(_metadata, 0);
}

TEST(herd_of_8_instances_exclusive)
{
	XP_REQUIRE(BE_XPOLL);
	herd_of_instances(_metadata, EPOLLEXCLUSIVE);
}

/* NH threads asleep on one instance: one event wakes exactly one. */
TEST(herd_of_8_threads_on_one_instance)
{
	struct xpoll_stats want = { 0 };
	struct waiter w[NH];
	int x, efd, done = 0, winner = -1;

	XP_REQUIRE(BE_XPOLL);
	install_nop(SIGUSR1);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, efd = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, efd, EPOLLIN | EPOLLET, 1));
	want.ctl[XPOLL_CTL_ADD] = 1;
	want.items = 1;
	for (int i = 0; i < NH; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].x = x;
	}
	ASSERT_TRUE(waiters_start(w, NH)) TH_LOG("a waiter did not sleep");
	poke(efd);
	waiters_done(w, NH, 1, 5000);
	msleep(200);
	for (int i = 0; i < NH; i++) {
		if (waiter_done(&w[i])) {
			done++;
			winner = i;
		}
	}
	EXPECT_EQ(1, done) TH_LOG("%d of %d threads returned", done, NH);
	want.waits = NH;
	want.waits_slept = 1;	/* counted as each wait ends */
	want.wakeups = 1;
	want.callbacks = want.events = want.events_et = want.ready_max = 1;
	check_stats(_metadata, x, &want, 0, true, "one event, 8 sleepers");

	for (int i = 0; i < NH; i++)
		if (i != winner)
			pthread_kill(w[i].th, SIGUSR1);
	for (int i = 0; i < NH; i++) {
		pthread_join(w[i].th, NULL);
		EXPECT_EQ(i == winner ? 1 : -EINTR, w[i].ret) TH_LOG("thread %d", i);
	}
	want.waits_slept = NH;
	check_stats(_metadata, x, &want, 0, true, "the others interrupted");
	close(efd);
	close(x);
}

/* ---- the overflow list ---- */

/*
 * A wait stores its event on a userfaultfd page and stalls there, in the
 * middle of its transfer (ovflist active).  An event arriving then is
 * diverted to the overflow list: callbacks 1, callbacks_ovf 1, and the
 * tracepoint says diverted=1.  Then it is reported by the next wait.
 */
TEST(overflow_list_event_during_copy_out)
{
	struct xpoll_stats w = { 0 };
	struct stalled_wait sw = { 0 };
	struct epoll_event ev[4];
	struct tracer tr;
	struct uffd_page u;
	char why[256] = "", exp[256];
	char *text;
	pthread_t th;
	uint64_t id;
	int x, a, b, r, trs;

	XP_REQUIRE(BE_XPOLL);
	r = uffd_page_open(&u);
	if (r == -ENOSYS || r == -EPERM)
		SKIP(return, "userfaultfd: %s", strerror(-r));
	ASSERT_EQ(0, r);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	id = stats_id(x);
	ASSERT_LE(0, a = eventfd(1, EFD_FLAGS));	/* ready at ADD */
	ASSERT_LE(0, b = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, a, EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(0, ADD(x, b, EPOLLIN | EPOLLET, 2));
	w.ctl[XPOLL_CTL_ADD] = 2;
	w.items = 2;
	w.ready_max = 1;

	trs = trace_start(&tr, why, sizeof(why));
	EXPECT_LE(0, trs) TH_LOG("tracefs: %s", why);
	if (trs)
		TH_LOG("no trace check: %s", why);

	sw.be = BE_XPOLL;
	sw.p = x;
	sw.ev = (struct epoll_event *)u.page;
	ASSERT_EQ(0, pthread_create(&th, NULL, stalled_wait_fn, &sw));
	ASSERT_TRUE(uffd_page_faulted(&u, 10000));

	/* The copy-out is stalled, the instance's mutex held: only the ioctl
	 * (no lock) may be read here, not fdinfo. */
	poke(b);
	w.callbacks = 1;
	w.callbacks_ovf = 1;
	w.waits = 1;
	check_stats(_metadata, x, &w, IGN(F_READY_MAX), false, "while the copy-out stalls");

	ASSERT_EQ(0, uffd_page_release(&u));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(1, sw.ret);
	EXPECT_EQ(1, sw.ev[0].data.u64);
	/* The diverted event went to the ready list at the scan's end. */
	EXPECT_EQ(1, xwait(x, ev, 4, 0));
	EXPECT_EQ(2, ev[0].data.u64);
	w.waits = 2;
	w.events = w.events_et = 2;
	check_stats(_metadata, x, &w, 0, true, "after the stall");

	if (!trs) {
		text = trace_stop(&tr);
		ASSERT_NE(NULL, text);
		snprintf(exp, sizeof(exp),
			 "xpoll_callback: id=%llu fd=%d key=0x1 queued=1 diverted=1\n",
			 (unsigned long long)id, b);
		EXPECT_EQ(1, trace_count(text, exp)) {
			TH_LOG("want: %s", exp);
			trace_dump(_metadata, text);
		}
		snprintf(exp, sizeof(exp), "xpoll_callback: id=%llu ",
			 (unsigned long long)id);
		EXPECT_EQ(1, trace_count(text, exp));
		snprintf(exp, sizeof(exp), "xpoll_deliver: id=%llu ",
			 (unsigned long long)id);
		EXPECT_EQ(2, trace_count(text, exp));
		free(text);
	}
	trace_cleanup(&tr);
	uffd_page_close(&u);
	close(a);
	close(b);
	close(x);
}

/* ---- a ring instance: indices appended ---- */

struct ringmap {
	struct xpoll_ring_hdr *hdr;
	struct xpoll_ring_slot *slots;
	uint32_t *ring;
	uint32_t entries;
	size_t size;
};

/* Harvests as the uapi says; returns the events taken. */
static int ring_harvest(struct ringmap *r, struct epoll_event *out, int max)
{
	uint32_t tail = __atomic_load_n(&r->hdr->tail, __ATOMIC_ACQUIRE);
	uint32_t head = r->hdr->head, idx, bits;
	int n = 0;

	while (head != tail && n < max) {
		idx = __atomic_load_n(&r->ring[head & (r->entries - 1)],
				      __ATOMIC_RELAXED);
		head++;
		__atomic_store_n(&r->hdr->head, head, __ATOMIC_RELEASE);
		if (idx >= r->entries)
			continue;
		bits = __atomic_exchange_n(&r->slots[idx].ready, 0,
					   __ATOMIC_SEQ_CST);
		if (!bits)
			continue;
		out[n].events = bits;
		out[n].data.u64 = r->slots[idx].data;
		n++;
	}
	return n;
}

static int ring_wait(int x, int max, int64_t timeout_ns)
{
	struct xpoll_wait wt = { .maxevents = max, .timeout_ns = timeout_ns };
	int r = ioctl(x, XPOLL_IOC_WAIT, &wt);

	return r < 0 ? -errno : r;
}

/* A ring instance of 4 entries, mapped: 0, 1 (no ring here: skip), -errno. */
static int ring_open(int *px, struct ringmap *r)
{
	struct xpoll_ring_setup rs = { .entries = 4 };
	struct xpoll_version v = { 0 };
	void *mem;
	int x = xp_open(O_CLOEXEC);

	if (x < 0)
		return -errno;
	*px = x;
	if (ioctl(x, XPOLL_IOC_VERSION, &v))
		return -errno;
	if (!(v.features & XPOLL_FEAT_RING))
		return 1;
	if (ioctl(x, XPOLL_IOC_RING_SETUP, &rs))
		return -errno;
	mem = mmap(NULL, rs.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, x, 0);
	if (mem == MAP_FAILED)
		return -errno;
	r->hdr = mem;
	r->slots = (struct xpoll_ring_slot *)((char *)mem + rs.slots_off);
	r->ring = (uint32_t *)((char *)mem + rs.ring_off);
	r->entries = rs.entries;
	r->size = rs.mmap_size;
	return 0;
}

static uint32_t ring_tail(struct ringmap *r)
{
	return __atomic_load_n(&r->hdr->tail, __ATOMIC_ACQUIRE);
}

/* ready_max is left out on a ring instance: no item is ever "ready" on a
 * list there (the uapi does not say what it counts for a ring). */
TEST(ring_counts_indices_appended)
{
	struct xpoll_stats w = { 0 };
	struct epoll_event ev[8];
	struct waiter t = { 0 };
	struct ringmap r;
	unsigned int rep;
	char path[64], line[256];
	long ms;
	int x = -1, e, o, ringline = 0, rc;
	FILE *f;

	XP_REQUIRE(BE_XPOLL);
	rc = ring_open(&x, &r);
	if (rc == 1)
		SKIP(return, "no ring (feature bit 11)");
	ASSERT_EQ(0, rc) TH_LOG("ring setup: %s", strerror(-rc));

	ASSERT_LE(0, e = eventfd(0, EFD_FLAGS));
	ASSERT_LE(0, o = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, e, EPOLLIN | EPOLLET, 0x55));
	w.ctl[XPOLL_CTL_ADD] = 1;
	w.items = 1;

	/* An event: one index appended. */
	poke(e);
	EXPECT_EQ(1, ring_tail(&r));
	w.callbacks = 1;
	w.events = w.events_et = 1;
	check_stats(_metadata, x, &w, IGN(F_READY_MAX), true, "one index appended");

	/* A ring wait stores nothing and counts no event. */
	EXPECT_EQ(1, ring_wait(x, 8, 0));
	w.waits = 1;
	EXPECT_EQ(1, ring_harvest(&r, ev, 8));
	EXPECT_EQ(0x55, ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, ev[0].events);
	EXPECT_EQ(0, ring_wait(x, 8, 0));
	w.waits = 2;
	check_stats(_metadata, x, &w, IGN(F_READY_MAX), true, "two ring waits");

	/* Harvested: the next event appends again. */
	poke(e);
	EXPECT_EQ(2, ring_tail(&r));
	w.callbacks = 2;
	w.events = w.events_et = 2;
	check_stats(_metadata, x, &w, IGN(F_READY_MAX), true, "harvested, appended again");
	EXPECT_EQ(1, ring_harvest(&r, ev, 8));

	/* One-shot: posted once, then disarmed (no callback) until MOD. */
	ASSERT_EQ(0, ADD(x, o, EPOLLIN | EPOLLET | EPOLLONESHOT, 0x66));
	w.ctl[XPOLL_CTL_ADD] = 2;
	w.items = 2;
	poke(o);
	EXPECT_EQ(1, ring_harvest(&r, ev, 8));
	EXPECT_EQ(0x66, ev[0].data.u64);
	poke(o);
	EXPECT_EQ(3, ring_tail(&r));
	w.callbacks = 3;
	w.events = 3;
	w.events_oneshot = 1;
	check_stats(_metadata, x, &w, IGN(F_READY_MAX), true, "ring one-shot");

	/* A sleeping ring wait woken by an append: a wakeup, not spurious. */
	t.x = x;
	t.ring = true;
	ASSERT_TRUE(waiter_start(&t));
	poke(e);
	pthread_join(t.th, NULL);
	EXPECT_EQ(1, t.ret);
	EXPECT_EQ(1, ring_harvest(&r, ev, 8));
	w.callbacks = 4;
	w.events = 4;
	w.events_et = 3;
	w.waits = 3;
	w.waits_slept = 1;
	w.wakeups = 1;
	check_stats(_metadata, x, &w, IGN(F_READY_MAX), true, "ring wait woken");

	/* Per item: indices appended for it. */
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(3, rep);
	ASSERT_EQ(0, fdinfo_rep(x, false, o, &rep, &ms));
	EXPECT_EQ(1, rep);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", x);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		unsigned int en, tl, hd, ov;

		if (sscanf(line, "ring: entries: %u tail: %u head: %u overflow: %u",
			   &en, &tl, &hd, &ov) == 4) {
			ringline++;
			EXPECT_EQ(4, en);
			EXPECT_EQ(4, tl);
			EXPECT_EQ(4, hd);
			EXPECT_EQ(0, ov);
		}
	}
	fclose(f);
	EXPECT_EQ(1, ringline);
	munmap(r.hdr, r.size);
	close(e);
	close(o);
	close(x);
}

/*
 * A second event of an item whose slot was not harvested yet ORs its bits
 * into the slot and appends no index ("a slot is in the ring once until
 * it is harvested"): the consumer gets one event.  The uapi counts for a
 * ring "indices appended", so events moves by 1, and so does the item's
 * "reported:"; callbacks by 2.  Likewise, an event that finds the ring
 * full appends nothing (overflow is set instead).
 */
TEST(ring_event_into_an_unharvested_slot_appends_nothing)
{
	struct xpoll_stats w = { 0 };
	struct epoll_event ev[8];
	struct ringmap r;
	unsigned int rep;
	long ms;
	int x = -1, e, rc;

	XP_REQUIRE(BE_XPOLL);
	rc = ring_open(&x, &r);
	if (rc == 1)
		SKIP(return, "no ring (feature bit 11)");
	ASSERT_EQ(0, rc) TH_LOG("ring setup: %s", strerror(-rc));
	ASSERT_LE(0, e = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, e, EPOLLIN | EPOLLET, 0x55));
	w.ctl[XPOLL_CTL_ADD] = 1;
	w.items = 1;

	poke(e);
	poke(e);
	EXPECT_EQ(1, ring_tail(&r));
	w.callbacks = 2;
	w.events = w.events_et = 1;
	check_stats(_metadata, x, &w, IGN(F_READY_MAX), true,
		    "two events, one index appended");
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(1, rep);
	EXPECT_EQ(1, ring_harvest(&r, ev, 8));
	EXPECT_EQ(0, ring_harvest(&r, ev, 8));
	munmap(r.hdr, r.size);
	close(e);
	close(x);
}

/* ---- tracepoints ---- */

TEST(tracepoints_fields)
{
	struct xpoll_stats st;
	struct epoll_event ev[8];
	struct xpoll_wait mw = { 0 };
	struct tracer tr;
	char why[256] = "", exp[256], *text;
	unsigned long long id, idy;
	bool dump = false;
	uint64_t nctl = 0;
	int x, y, e, bad, r;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_LE(0, x = xp_open(O_CLOEXEC));
	ASSERT_LE(0, y = xp_open(O_CLOEXEC));
	id = stats_id(x);
	idy = stats_id(y);
	ASSERT_LE(0, e = eventfd(0, EFD_FLAGS));
	bad = closed_fd();

	r = trace_start(&tr, why, sizeof(why));
	if (r == 1)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, r) TH_LOG("%s", why);

	EXPECT_EQ(0, ADD(x, e, EPOLLIN | EPOLLET, 0x1234));
	EXPECT_EQ(-EEXIST, ADD(x, e, EPOLLIN | EPOLLET, 0x1234));
	EXPECT_EQ(-EBADF, ctl(x, XPOLL_CTL_MOD, bad, EPOLLIN, 0, 0, 0));
	EXPECT_EQ(0, UCTL(x, XPOLL_CTL_ADD, EPOLLIN | EPOLLET, 0xabc, 0x77));
	EXPECT_EQ(0, ADD(y, e, EPOLLIN, 0x99));		/* y: its own id */
	poke(e);
	EXPECT_EQ(0, UCTL(x, XPOLL_CTL_TRIGGER, EPOLLIN, 0xabc, 0));
	EXPECT_EQ(2, xp_wait_raw(x, ev, 7, 5 * MS, NULL));
	EXPECT_EQ(0, xp_wait_raw(x, ev, 3, 2 * MS, NULL));
	mw.events = (uintptr_t)ev;
	mw.maxevents = 5;
	mw.min_events = 2;
	EXPECT_EQ(0, ioctl(x, XPOLL_IOC_WAIT, &mw));	/* timeout 0 */
	close(e);			/* the last close: xpoll_release */
	ASSERT_EQ(0, stats_get(x, &st));

	text = trace_stop(&tr);
	trace_cleanup(&tr);
	ASSERT_NE(NULL, text);

#define WANT(n, fmt, ...) do {						\
	snprintf(exp, sizeof(exp), fmt, ##__VA_ARGS__);			\
	EXPECT_EQ(n, trace_count(text, exp)) {				\
		TH_LOG("want %d of: %s", n, exp);			\
		dump = true;						\
	}								\
} while (0)
	WANT(1, "xpoll_ctl: id=%llu op=1 fd=%d events=0x80000001 flags=0x0 key=0x0 res=0\n", id, e);
	WANT(1, "xpoll_ctl: id=%llu op=1 fd=%d events=0x80000001 flags=0x0 key=0x0 res=-17\n", id, e);
	WANT(1, "xpoll_ctl: id=%llu op=3 fd=%d events=0x1 flags=0x0 key=0x0 res=-9\n", id, bad);
	WANT(1, "xpoll_ctl: id=%llu op=1 fd=-1 events=0x80000001 flags=0x1 key=0xabc res=0\n", id);
	WANT(1, "xpoll_ctl: id=%llu op=4 fd=-1 events=0x1 flags=0x1 key=0xabc res=0\n", id);
	WANT(1, "xpoll_ctl: id=%llu op=1 fd=%d events=0x1 flags=0x0 key=0x0 res=0\n", idy, e);
	WANT(1, "xpoll_callback: id=%llu fd=%d key=0x1 queued=1 diverted=0\n", id, e);
	WANT(1, "xpoll_callback: id=%llu fd=%d key=0x1 queued=1 diverted=0\n", idy, e);
	WANT(1, "xpoll_callback: id=%llu fd=-1 key=0x1 queued=1 diverted=0\n", id);
	WANT(1, "xpoll_wait_begin: id=%llu maxevents=7 timeout_ns=5000000 min_events=0\n", id);
	WANT(1, "xpoll_deliver: id=%llu fd=%d events=0x1 data=0x1234\n", id, e);
	WANT(1, "xpoll_deliver: id=%llu fd=-1 events=0x1 data=0x77\n", id);
	WANT(1, "xpoll_wait_end: id=%llu res=2 slept=0\n", id);
	WANT(1, "xpoll_wait_begin: id=%llu maxevents=3 timeout_ns=2000000 min_events=0\n", id);
	WANT(1, "xpoll_wait_end: id=%llu res=0 slept=1\n", id);
	WANT(1, "xpoll_wait_begin: id=%llu maxevents=5 timeout_ns=0 min_events=2\n", id);
	WANT(1, "xpoll_wait_end: id=%llu res=0 slept=0\n", id);
	WANT(1, "xpoll_release: id=%llu fd=%d\n", id, e);
	WANT(1, "xpoll_release: id=%llu fd=%d\n", idy, e);

	/* As many events of x as its counters say. */
	for (int i = 0; i < XPOLL_STATS_OPS; i++)
		nctl += st.ctl[i];
	WANT((int)nctl, "xpoll_ctl: id=%llu ", id);
	WANT((int)st.callbacks, "xpoll_callback: id=%llu ", id);
	WANT((int)st.events, "xpoll_deliver: id=%llu ", id);
	WANT((int)st.waits, "xpoll_wait_begin: id=%llu ", id);
	WANT((int)st.waits, "xpoll_wait_end: id=%llu ", id);
	WANT((int)st.waits_slept, "slept=1\n");
	EXPECT_EQ(5, nctl);
	EXPECT_EQ(2, st.callbacks);
	EXPECT_EQ(2, st.events);
	EXPECT_EQ(3, st.waits);
	EXPECT_EQ(1, st.waits_slept);
	/* No kernel pointer in any of them. */
	EXPECT_EQ(0, trace_count(text, "=0xffff")) {
		TH_LOG("a kernel pointer?");
		dump = true;
	}
#undef WANT
	if (dump)
		trace_dump(_metadata, text);
	free(text);
	close(y);
	close(x);
}

/* ---- an unprivileged user's own instance ---- */

TEST(unprivileged_user_reads_own_stats_and_fdinfo)
{
	struct xpoll_stats w = { 0 }, st;
	struct epoll_event ev[4];
	unsigned int rep;
	long ms;
	int x, e;

	XP_REQUIRE(BE_XPOLL);
	/* The test runs in a child of its own: dropping is for it alone. */
	if (geteuid() == 0) {
		ASSERT_EQ(0, xp_drop_privs(XP_NOBODY));
	}
	ASSERT_NE(0, geteuid());
	ASSERT_LE(0, x = xp_open(O_CLOEXEC)) TH_LOG("open: %s", strerror(errno));
	ASSERT_LE(0, e = eventfd(0, EFD_FLAGS));
	ASSERT_EQ(0, ADD(x, e, EPOLLIN | EPOLLET, 5));
	ASSERT_EQ(-EEXIST, ADD(x, e, EPOLLIN | EPOLLET, 5));
	ASSERT_EQ(0, UCTL(x, XPOLL_CTL_ADD, EPOLLIN | EPOLLET, 0x77, 6));
	ASSERT_EQ(0, UCTL(x, XPOLL_CTL_TRIGGER, EPOLLIN, 0x77, 0));
	poke(e);
	EXPECT_EQ(2, xwait(x, ev, 4, 0));
	w.ctl[XPOLL_CTL_ADD] = 3;
	w.ctl_errors[XPOLL_CTL_ADD] = 1;
	w.items = 2;
	w.ctl[XPOLL_CTL_TRIGGER] = 1;
	w.waits = 1;
	w.callbacks = 2;
	w.events = w.events_et = 2;
	w.ready_max = 2;
	check_stats(_metadata, x, &w, 0, true, "as uid 65534");
	ASSERT_EQ(0, stats_get(x, &st));
	EXPECT_LT(0, st.id);
	ASSERT_EQ(0, fdinfo_rep(x, false, e, &rep, &ms));
	EXPECT_EQ(1, rep);
	ASSERT_EQ(0, fdinfo_rep(x, true, 0x77, &rep, &ms));
	EXPECT_EQ(1, rep);
	/* flags still checked for them. */
	memset(&st, 0, sizeof(st));
	st.flags = 1;
	EXPECT_EQ(-1, ioctl(x, XPOLL_IOC_STATS, &st));
	EXPECT_EQ(EINVAL, errno);
	close(e);
	close(x);
}

XP_NO_HOOK
XP_MAIN
