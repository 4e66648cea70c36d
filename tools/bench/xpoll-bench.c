// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll-bench: each workload on epoll and on xpoll in the same boot,
 * alternating (epoll first on even repetitions, xpoll first on odd ones),
 * several repetitions; a table with the median, the spread and the ratio
 * xpoll/epoll per row, and the raw samples as CSV (tools/bench/plot.py
 * draws them).
 *
 * Workloads (issue 6):
 *  ctl      ADD, MOD, DEL per second with N registered eventfds: one call
 *           per change (what the preload does for an epoll program), and
 *           xpoll's changes CTL_BATCH per XPOLL_IOC_CTL_BATCH call
 *  wait     events per second returned by waits, N registered, K ready,
 *           level-triggered (the same K every wait) or edge-triggered (the
 *           K are written again before each wait: a new edge each time)
 *  latency  ping-pong of two threads through two eventfds, each blocked in
 *           a wait: one-way wakeup latency, p50 and p99
 *  herd     M threads, each blocked in its own instance on one shared
 *           eventfd, with and without EPOLLEXCLUSIVE, one event at a time:
 *           wait returns per event and events per second
 *  null     the cost of entering each interface, to tell it apart from the
 *           work done inside: XPOLL_IOC_VERSION against epoll_ctl with an
 *           invalid op (both look up the instance fd and return at once);
 *           the bare entry, an unknown ioctl command on the instance
 *           (ENOTTY) against epoll_wait with maxevents 0 (EINVAL); and the
 *           same unknown command on an eventfd, which xpoll never sees:
 *           what any ioctl() costs on this kernel; and read() of /dev/null,
 *           the other way into a character device's code
 *  memory   bytes per watch: the growth of the kernel's unreclaimable slab
 *           (SUnreclaim in /proc/meminfo) when N watches are added
 *  churn    connections per second (and the median time of one) through
 *           a TCP server on 127.0.0.1 that accepts, ADDs the connection,
 *           waits, reads a request, writes a reply and closes it without
 *           DEL, against one client that reads the reply up to EOF: the
 *           close must remove the watch and let the FIN go at once (an
 *           interface that kept the file open until later delays every
 *           connection by that much)
 *
 * Pairing: every row is measured on both interfaces back to back (epoll
 * first on even repetitions, xpoll first on odd ones), so a burst of noise
 * on the host (a TCG guest on a shared machine sees many) lands on both
 * samples of a pair rather than on one interface.  Spread is (max - min) /
 * median of one interface's repetitions, in percent.  Ratio is the median
 * over the repetitions of xpoll / epoll within each pair: above 1 is better
 * for xpoll on throughputs, below 1 on latencies and memory.  The verdict
 * is "ok" when that median is on xpoll's side of 1, "ok (noise)" when it
 * is not but at least one pair was, and "LOSS" when xpoll lost every pair.
 *
 * --table FILE.csv prints that table for samples written before, by this
 * program, by realserver.sh or by scripts/bench-ab.sh (whose "backends" are
 * two builds of the module, named with --columns).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <linux/xpoll.h>

enum { EP, XP };
static const char *const be_name[] = { "epoll", "xpoll" };

/* Changes per XPOLL_IOC_CTL_BATCH call in the batched ctl rows. */
#define CTL_BATCH 64

static int reps = 5;
static double budget = 0.2;	/* seconds per timed sample */
static long max_n = 100000;
static int only_be = -1;	/* --backend: run one interface only (profiling) */
static FILE *csv;

/* ---- backend-neutral calls ---------------------------------------------- */

static int b_open(int be)
{
	return be == XP ? open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC) : epoll_create1(EPOLL_CLOEXEC);
}

static int b_ctl(int be, int x, int op, int fd, uint32_t ev, uint64_t data)
{
	if (be == XP) {
		struct xpoll_ctl c = { .op = op, .fd = fd, .events = ev, .data = data };

		return ioctl(x, XPOLL_IOC_CTL, &c);
	}
	struct epoll_event e = { .events = ev, .data.u64 = data };

	return epoll_ctl(x, op, fd, &e);
}

static int b_wait(int be, int x, struct epoll_event *ev, int max, int timeout_ms)
{
	if (be == XP) {
		struct xpoll_wait w = {
			.events = (uintptr_t)ev, .maxevents = max,
			.timeout_ns = timeout_ms < 0 ? -1 : timeout_ms * 1000000LL,
		};

		return ioctl(x, XPOLL_IOC_WAIT, &w);
	}
	return epoll_wait(x, ev, max, timeout_ms);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* ---- results -------------------------------------------------------------- */

struct row {
	char workload[16], params[64], metric[32];
	int lower_is_better;
	double s[2][64];	/* samples per column (backend, or build) */
	int n[2];
};

static struct row rows[256];
static int nrows;

/* The table's two columns: the backends, or what --columns names (--table). */
static const char *col_name[2] = { "epoll", "xpoll" };
static const char *ratio_name = "x/e";

/* Latencies, wakeups and memory: smaller is better.  Rates: larger. */
static int lower_is_better(const char *metric)
{
	static const char *const lower[] = {
		"p50_us", "p99_us", "wakeups/event", "returns/event", "bytes/watch",
		"ms/request",
	};

	for (size_t i = 0; i < sizeof(lower) / sizeof(lower[0]); i++)
		if (!strcmp(metric, lower[i]))
			return 1;
	return 0;
}

static struct row *row(const char *w, const char *p, const char *m)
{
	for (int i = 0; i < nrows; i++)
		if (!strcmp(rows[i].workload, w) && !strcmp(rows[i].params, p) &&
		    !strcmp(rows[i].metric, m))
			return &rows[i];
	struct row *r = &rows[nrows++];

	snprintf(r->workload, sizeof(r->workload), "%s", w);
	snprintf(r->params, sizeof(r->params), "%s", p);
	snprintf(r->metric, sizeof(r->metric), "%s", m);
	r->lower_is_better = lower_is_better(m);
	return r;
}

static void record(const char *w, const char *p, const char *m, int col, double v)
{
	struct row *r = row(w, p, m);

	if (r->n[col] < 64)
		r->s[col][r->n[col]++] = v;
}

static void sample(const char *w, const char *p, const char *m, int be, int rep, double v)
{
	record(w, p, m, be, v);
	if (csv)
		fprintf(csv, "%s,%s,%s,%s,%d,%.6g\n", w, p, m, be_name[be], rep, v);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n, double *spread)
{
	double s[64], m;

	memcpy(s, v, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_d);
	m = n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	*spread = m ? 100 * (s[n - 1] - s[0]) / m : 0;
	return m;
}

static void print_table(void)
{
	printf("\n%-8s %-22s %-16s %14s %7s %14s %7s %7s %s\n", "workload", "params",
	       "metric", col_name[0], "+-%", col_name[1], "+-%", ratio_name, "");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		double se, sx, sr, me, mx, ratio, pair[64], best;
		const char *verdict;
		int n = r->n[EP] < r->n[XP] ? r->n[EP] : r->n[XP];

		if (!n)
			continue;
		me = median(r->s[EP], r->n[EP], &se);
		mx = median(r->s[XP], r->n[XP], &sx);
		/* Sample k of each interface comes from the same repetition. */
		for (int k = 0; k < n; k++)
			pair[k] = r->s[EP][k] ? r->s[XP][k] / r->s[EP][k] : 0;
		ratio = median(pair, n, &sr);
		best = pair[0];
		for (int k = 1; k < n; k++)
			if (r->lower_is_better ? pair[k] < best : pair[k] > best)
				best = pair[k];
		if (r->lower_is_better)
			verdict = ratio <= 1 ? "ok" : best <= 1 ? "ok (noise)" : "LOSS";
		else
			verdict = ratio >= 1 ? "ok" : best >= 1 ? "ok (noise)" : "LOSS";
		printf("%-8s %-22s %-16s %14.4g %7.1f %14.4g %7.1f %7.3f %s\n", r->workload,
		       r->params, r->metric, me, se, mx, sx, ratio, verdict);
	}
}

/*
 * --table: the table of a CSV in this program's format (its own, or
 * realserver.sh's, or bench-ab.sh's, whose two columns are two builds of
 * the module), without measuring anything.  Sample k of one column is
 * paired with sample k of the other: the writers append the rows of a
 * repetition together, repetition after repetition.
 */
static int print_csv_table(const char *path)
{
	char line[256], *f[6], *save;
	FILE *in = fopen(path, "r");
	int col, nf;

	if (!in)
		die(path);
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = 0;
		nf = 0;
		for (char *t = strtok_r(line, ",", &save); t && nf < 6;
		     t = strtok_r(NULL, ",", &save))
			f[nf++] = t;
		if (nf != 6 || !strcmp(f[0], "workload"))
			continue;
		col = !strcmp(f[3], col_name[0]) ? 0 : !strcmp(f[3], col_name[1]) ? 1 : -1;
		if (col >= 0)
			record(f[0], f[1], f[2], col, atof(f[5]));
	}
	fclose(in);
	print_table();
	return 0;
}

/* ---- the target pool ----------------------------------------------------------- */

static int *efd;
static long nefd;

static void make_targets(long n)
{
	struct rlimit rl = { n + 1024, n + 1024 };

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit (raise fs.nr_open?)");
	efd = calloc(n, sizeof(int));
	for (nefd = 0; nefd < n; nefd++)
		if ((efd[nefd] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			die("eventfd");
}

static void set_ready(long k, int ready)
{
	uint64_t v = 1;

	for (long i = 0; i < k; i++) {
		if (ready) {
			if (write(efd[i], &v, 8) != 8)
				die("write");
		} else if (read(efd[i], &v, 8) < 0 && errno != EAGAIN) {
			die("read");
		}
	}
}

/* ---- 1. ctl throughput ------------------------------------------------------------ */

/*
 * The changes i .. i + nr - 1 of one phase as one XPOLL_IOC_CTL_BATCH call,
 * every per-change result checked.
 */
static void xp_ctl_batch(int x, int op, uint32_t ev, long i, int nr)
{
	struct xpoll_ctl c[CTL_BATCH];
	int32_t res[CTL_BATCH];
	struct xpoll_ctl_batch b = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = nr,
	};

	memset(c, 0, sizeof(c[0]) * nr);
	for (int j = 0; j < nr; j++) {
		c[j].op = op;
		c[j].fd = efd[i + j];
		c[j].events = ev;
		c[j].data = i + j;
	}
	if (ioctl(x, XPOLL_IOC_CTL_BATCH, &b) != nr)
		die("XPOLL_IOC_CTL_BATCH");
	for (int j = 0; j < nr; j++)
		if (res[j]) {
			errno = -res[j];
			die("batched change");
		}
}

/*
 * One sample: ADD, MOD and DEL of all N targets, repeated until the three
 * phases together took the time budget (a single pass of 1k targets takes
 * a few milliseconds: too short to time well), each phase timed apart.
 * With @batched, xpoll makes its changes CTL_BATCH at a time with
 * XPOLL_IOC_CTL_BATCH; epoll has no such call and makes them one by one
 * as in the per-call row, so the row compares each interface's fastest way
 * to make N changes.
 */
static void bench_ctl(int be, int rep, long n, int batched)
{
	static const char *const metric[3] = { "ADD/s", "MOD/s", "DEL/s" };
	static const int op[3] = { EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL };
	static const uint32_t ev[3] = { EPOLLIN, EPOLLIN | EPOLLET, 0 };
	double t[3] = { 0 }, t0;
	long cycles = 0;
	char p[64];
	int x = b_open(be);

	if (x < 0)
		die("open");
	do {
		for (int k = 0; k < 3; k++) {
			t0 = now();
			if (batched && be == XP)
				for (long i = 0; i < n; i += CTL_BATCH)
					xp_ctl_batch(x, op[k], ev[k], i,
						     n - i < CTL_BATCH ? n - i : CTL_BATCH);
			else
				for (long i = 0; i < n; i++)
					if (b_ctl(be, x, op[k], efd[i], ev[k], i))
						die(metric[k]);
			t[k] += now() - t0;
		}
		cycles++;
	} while (t[0] + t[1] + t[2] < budget);
	close(x);
	snprintf(p, sizeof(p), batched ? "N=%ld batch=%d" : "N=%ld", n, CTL_BATCH);
	for (int k = 0; k < 3; k++)
		sample("ctl", p, metric[k], be, rep, cycles * n / t[k]);
}

/* ---- 0. interface entry cost ---------------------------------------------------- */

/*
 * Calls that do nothing, four ways (enum null_kind): VERSION against
 * epoll_ctl() with an invalid op (both look up the instance and return);
 * and the bare entry, xpoll's ioctl() path (or, on an eventfd, any
 * driver's) with a command nobody knows against epoll_wait() refusing
 * maxevents 0 before it looks at anything.  The last row is the other
 * entry a character device owns, read() (of /dev/null, which returns at
 * once): it tells whether a driver could be entered more cheaply than by
 * ioctl().
 */
enum null_kind { NULL_VERSION, NULL_ENOTTY, NULL_ENOTTY_EVENTFD,
		 NULL_READ_CHRDEV };

static const char *const null_params[] = {
	"VERSION|bad-op", "ENOTTY|maxevents-0", "ioctl(eventfd)|maxevents-0",
	"read(/dev/null)|maxevents-0",
};

static int devnull = -1;

static int null_call(int be, enum null_kind kind, int x)
{
	struct xpoll_version v = { 0 };
	struct epoll_event e = { 0 };

	if (kind == NULL_VERSION)
		return be == XP ? ioctl(x, XPOLL_IOC_VERSION, &v) == 0
				: epoll_ctl(x, 0, 0, &e) == -1;
	if (be == EP)
		return epoll_wait(x, &e, 0, 0) == -1 && errno == EINVAL;
	if (kind == NULL_READ_CHRDEV)
		return read(devnull, &v, sizeof(v)) == 0;
	return ioctl(kind == NULL_ENOTTY ? x : efd[0],
		     _IO(XPOLL_IOC_MAGIC, 0x7f)) == -1 && errno == ENOTTY;
}

static void bench_null(int be, int rep, enum null_kind kind)
{
	double t0 = now(), t;
	long calls = 0;
	int x = b_open(be);

	do {
		for (int i = 0; i < 1000; i++)
			if (!null_call(be, kind, x))
				die("null op");
		calls += 1000;
		t = now() - t0;
	} while (t < budget);
	close(x);
	sample("null", null_params[kind], "calls/s", be, rep, calls / t);
}

/* ---- 2. wait cost ------------------------------------------------------------------- */

static void bench_wait(int be, int rep, long n, long k, int et)
{
	static struct epoll_event *ev;
	char p[64];
	double t0, t;
	long events = 0, calls = 0;
	int x = b_open(be), r, batch;

	if (!ev)
		ev = malloc(sizeof(*ev) * max_n);
	snprintf(p, sizeof(p), "N=%ld K=%s %s", n, k == n ? "all" : (k == 1 ? "1" : "64"),
		 et ? "ET" : "LT");
	for (long i = 0; i < n; i++)
		if (b_ctl(be, x, EPOLL_CTL_ADD, efd[i], EPOLLIN | (et ? EPOLLET : 0), i))
			die("ADD");
	set_ready(k, 1);
	/*
	 * The clock is read once per batch of waits: under TCG the guest's
	 * clocksource is an emulated HPET, whose read would otherwise cost as
	 * much as a small wait and blur the difference being measured.
	 */
	batch = k >= 1000 ? 1 : 16;
	t0 = now();
	do {
		for (int b = 0; b < batch; b++) {
			if (et && calls)
				set_ready(k, 1);	/* a new edge on each of the K */
			r = b_wait(be, x, ev, (int)k, 0);
			if (r != k) {
				fprintf(stderr, "%s wait %s: %d events, expected %ld\n",
					be_name[be], p, r, k);
				exit(1);
			}
			events += r;
			calls++;
		}
		t = now() - t0;
	} while (t < budget || calls < 3);
	set_ready(k, 0);
	close(x);
	sample("wait", p, "events/s", be, rep, events / t);
}

/*
 * An event loop's turn (issue 15): C changes (MODs of targets that are not
 * ready, the data changing each turn) and then one wait that returns the
 * 16 ready targets of 1,000.  epoll makes C epoll_ctl() calls and one
 * epoll_wait(); xpoll one XPOLL_IOC_CTL_WAIT.  Turns per second.
 */
static void bench_ctlwait(int be, int rep, int c)
{
	enum { N = 1000, K = 16, CMAX = 16 };
	struct epoll_event ev[64];
	struct xpoll_ctl ctls[CMAX];
	int32_t res[CMAX];
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)ctls, .results = (uintptr_t)res, .nr = c,
		.wait = { .events = (uintptr_t)ev, .maxevents = 64 },
	};
	int x = b_open(be), r;
	long turns = 0, t0i = 0;
	char p[32];
	double t0, t;

	snprintf(p, sizeof(p), "C=%d", c);
	for (long i = 0; i < N; i++)
		if (b_ctl(be, x, EPOLL_CTL_ADD, efd[i], EPOLLIN, i))
			die("ADD");
	set_ready(K, 1);
	memset(ctls, 0, sizeof(ctls));
	t0 = now();
	do {
		for (int b = 0; b < 16; b++, turns++) {
			/* MODs of the not-ready targets K .. N-1, in turn */
			long base = K + (t0i++ * c) % (N - K - CMAX);

			if (be == XP) {
				for (int j = 0; j < c; j++) {
					ctls[j].op = XPOLL_CTL_MOD;
					ctls[j].fd = efd[base + j];
					ctls[j].events = EPOLLIN;
					ctls[j].data = turns;
				}
				r = ioctl(x, XPOLL_IOC_CTL_WAIT, &cw);
				for (int j = 0; j < c; j++)
					if (res[j])
						die("ctl+wait change");
			} else {
				for (int j = 0; j < c; j++)
					if (b_ctl(be, x, EPOLL_CTL_MOD, efd[base + j],
						  EPOLLIN, turns))
						die("MOD");
				r = b_wait(be, x, ev, 64, 0);
			}
			if (r != K) {
				fprintf(stderr, "%s ctl+wait %s: %d events, expected %d\n",
					be_name[be], p, r, K);
				exit(1);
			}
		}
		t = now() - t0;
	} while (t < budget || turns < 3);
	set_ready(K, 0);
	close(x);
	sample("ctl+wait", p, "turns/s", be, rep, turns / t);
}

/* ---- 3. wakeup latency --------------------------------------------------------------- */

struct pp {
	int be, x[2], e[2];
	long iters;
	double *lat;
};

static void *pong(void *arg)
{
	struct pp *pp = arg;
	struct epoll_event ev;
	uint64_t v;

	for (long i = 0; i < pp->iters; i++) {
		if (b_wait(pp->be, pp->x[1], &ev, 1, -1) != 1)
			die("pong wait");
		if (read(pp->e[0], &v, 8) != 8)
			die("pong read");
		v = 1;
		if (write(pp->e[1], &v, 8) != 8)
			die("pong write");
	}
	return NULL;
}

static void bench_latency(int be, int rep)
{
	struct pp pp = { .be = be, .iters = 2000 };
	struct epoll_event ev;
	pthread_t t;
	uint64_t v;
	double t0;

	pp.lat = malloc(sizeof(double) * pp.iters);
	for (int i = 0; i < 2; i++) {
		pp.x[i] = b_open(be);
		pp.e[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	/* x[1] (pong) waits for e[0]; x[0] (ping) waits for e[1] */
	b_ctl(be, pp.x[1], EPOLL_CTL_ADD, pp.e[0], EPOLLIN, 0);
	b_ctl(be, pp.x[0], EPOLL_CTL_ADD, pp.e[1], EPOLLIN, 1);
	pthread_create(&t, NULL, pong, &pp);
	for (long i = 0; i < pp.iters; i++) {
		v = 1;
		t0 = now();
		if (write(pp.e[0], &v, 8) != 8)
			die("ping write");
		if (b_wait(be, pp.x[0], &ev, 1, -1) != 1)
			die("ping wait");
		pp.lat[i] = (now() - t0) / 2 * 1e6;	/* one way, microseconds */
		if (read(pp.e[1], &v, 8) != 8)
			die("ping read");
	}
	pthread_join(t, NULL);
	qsort(pp.lat, pp.iters, sizeof(double), cmp_d);
	sample("latency", "ping-pong", "p50_us", be, rep, pp.lat[pp.iters / 2]);
	sample("latency", "ping-pong", "p99_us", be, rep, pp.lat[pp.iters * 99 / 100]);
	for (int i = 0; i < 2; i++) {
		close(pp.x[i]);
		close(pp.e[i]);
	}
	free(pp.lat);
}

/* ---- 4. herd ----------------------------------------------------------------------------- */

struct herd {
	int be, e, stop;
	atomic_long wakeups, returns, handled;
};

struct herd_th {
	struct herd *h;
	int x;
};

static void *herd_waiter(void *arg)
{
	struct herd_th *ht = arg;
	struct herd *h = ht->h;
	struct epoll_event ev;
	struct rusage ru0, ru1;
	long timeouts = 0;
	uint64_t v;

	/*
	 * A woken waiter that finds the event gone re-polls and sleeps again
	 * without returning, so returns undercount wakeups: count the
	 * thread's voluntary context switches (one per sleep), less the
	 * sleeps that ended in a timeout.
	 */
	getrusage(RUSAGE_THREAD, &ru0);
	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		int r = b_wait(h->be, ht->x, &ev, 1, 200);

		if (r <= 0) {
			timeouts++;
			continue;
		}
		atomic_fetch_add(&h->returns, 1);
		if (read(h->e, &v, 8) == 8)
			atomic_fetch_add(&h->handled, 1);
	}
	getrusage(RUSAGE_THREAD, &ru1);
	atomic_fetch_add(&h->wakeups, ru1.ru_nvcsw - ru0.ru_nvcsw - timeouts);
	return NULL;
}

static void bench_herd(int be, int rep, int m, int excl)
{
	struct herd h = { .be = be };
	struct herd_th ht[16];
	pthread_t t[16];
	char p[64];
	long events = 0, target = 300;
	uint64_t v = 1;
	double t0, el;

	h.e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (int i = 0; i < m; i++) {
		ht[i].h = &h;
		ht[i].x = b_open(be);
		if (b_ctl(be, ht[i].x, EPOLL_CTL_ADD, h.e, EPOLLIN | (excl ? EPOLLEXCLUSIVE : 0), i))
			die("herd ADD");
		pthread_create(&t[i], NULL, herd_waiter, &ht[i]);
	}
	usleep(100000);	/* all asleep before the first event */
	t0 = now();
	while (events < target && now() - t0 < 5 * budget + 2) {
		long before = atomic_load(&h.handled);

		if (write(h.e, &v, 8) != 8)
			die("herd write");
		while (atomic_load(&h.handled) == before && now() - t0 < 10)
			sched_yield();
		events++;
	}
	el = now() - t0;
	usleep(20000);	/* let late wakeups of the last event be counted */
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < m; i++) {
		pthread_join(t[i], NULL);
		close(ht[i].x);
	}
	close(h.e);
	snprintf(p, sizeof(p), "M=%d %s", m, excl ? "EXCLUSIVE" : "shared");
	sample("herd", p, "wakeups/event", be, rep, (double)atomic_load(&h.wakeups) / events);
	sample("herd", p, "returns/event", be, rep, (double)atomic_load(&h.returns) / events);
	sample("herd", p, "events/s", be, rep, events / el);
}

/* ---- 5. memory per watch ------------------------------------------------------------------ */

static long sunreclaim_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Unreclaimable slab that watching fds[0..n) costs, per watch. */
static void memory_sample(int be, int rep, const int *fds, long n,
			  const char *params)
{
	long before, after;
	int x = b_open(be);

	usleep(200000);
	before = sunreclaim_kb();
	for (long i = 0; i < n; i++)
		if (b_ctl(be, x, EPOLL_CTL_ADD, fds[i], EPOLLIN, i))
			die("memory ADD");
	after = sunreclaim_kb();
	close(x);
	sample("memory", params, "bytes/watch", be, rep,
	       (after - before) * 1024.0 / n);
}

static void bench_memory(int be, int rep, long n)
{
	char p[64];

	snprintf(p, sizeof(p), "N=%ld", n);
	memory_sample(be, rep, efd, n, p);
}

/*
 * The same for sockets (one end of each of n UNIX socketpairs, made once):
 * epoll's per-file head is shared by every watch of a file, as xpoll's
 * superblock mark is by every watched socket.
 */
static void bench_memory_sock(int be, int rep, long n)
{
	static int *sock;
	char p[64];
	int sv[2];

	if (!sock) {
		struct rlimit rl;

		/* Room for both ends of each pair beside the eventfds. */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur += 2 * (rlim_t)n;
			if (rl.rlim_max < rl.rlim_cur)
				rl.rlim_max = rl.rlim_cur;
			if (setrlimit(RLIMIT_NOFILE, &rl))
				die("setrlimit for the sockets");
		}
		sock = calloc((size_t)n, sizeof(*sock));
		for (long i = 0; sock && i < n; i++) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
				die("memory socketpair");
			sock[i] = sv[0];
		}
		if (!sock)
			die("memory sockets");
	}
	snprintf(p, sizeof(p), "N=%ld sockets", n);
	memory_sample(be, rep, sock, n, p);
}

/* ---- 7. connection churn ------------------------------------------------------------------ */

#define CHURN_REQ 16		/* bytes of a request */
#define CHURN_REPLY 128		/* bytes of a reply */
#define CHURN_MAX 100000	/* connections per sample, at most */
#define CHURN_LISTENER UINT64_MAX

struct churn {
	int be, x, lfd;
	atomic_int stop;
	long nfd, served;
	uint32_t seq, *gen, *got;	/* per fd: its connection's number, bytes read */
};

/*
 * The server: accept and ADD each connection (its number in the upper half
 * of the data, so that an event of an earlier connection that had the same
 * fd is recognised and ignored), read the request, write the reply, close
 * without DEL.
 */
static void *churn_server(void *arg)
{
	static const char reply[CHURN_REPLY] = "churn reply";
	struct churn *c = arg;
	struct epoll_event ev[16];
	char buf[256];
	ssize_t r;
	int n, fd;

	while (!atomic_load(&c->stop)) {
		n = b_wait(c->be, c->x, ev, 16, 100);
		if (n < 0 && errno != EINTR)
			die("churn wait");
		for (int i = 0; i < n; i++) {
			uint64_t d = ev[i].data.u64;

			if (d == CHURN_LISTENER) {
				fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0) {
					if (errno == EAGAIN || errno == ECONNABORTED)
						continue;
					die("churn accept");
				}
				if (fd >= c->nfd) {
					fprintf(stderr, "churn: fd %d above RLIMIT_NOFILE\n", fd);
					exit(1);
				}
				if (!++c->seq)
					c->seq = 1;	/* 0 marks a free fd */
				c->gen[fd] = c->seq;
				c->got[fd] = 0;
				if (b_ctl(c->be, c->x, EPOLL_CTL_ADD, fd, EPOLLIN,
					  (uint64_t)c->gen[fd] << 32 | (uint32_t)fd))
					die("churn ADD");
				continue;
			}
			fd = (int)(uint32_t)d;
			if (fd >= c->nfd || !c->gen[fd] || c->gen[fd] != d >> 32)
				continue;	/* a closed connection's */
			r = read(fd, buf, sizeof(buf));
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r > 0) {
				c->got[fd] += r;
				if (c->got[fd] < CHURN_REQ)
					continue;
				if (write(fd, reply, sizeof(reply)) != sizeof(reply))
					die("churn reply");
			}
			c->gen[fd] = 0;
			c->served++;
			close(fd);	/* no DEL: the close has to remove the watch */
		}
	}
	return NULL;
}

/*
 * The client: one connection at a time, connect, write the request, read
 * the reply and then up to EOF (the server's FIN), close; for 5 budgets
 * (1 s by default) or CHURN_MAX connections, at least 3.  A connection
 * whose EOF takes more than 5 s ends the run with an error.  Two metrics:
 * connections per second, and the median time of one connection (which a
 * burst of host noise moves less than the rate: a late FIN moves both).
 * Client and server share one CPU (the last one this thread may use): a
 * wakeup across vCPUs of a TCG guest waits for the host to run the other
 * vCPU's thread, which on a busy 2-core host dominated the rate.
 */
static void bench_churn(int be, int rep)
{
	struct churn c = { .be = be };
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t alen = sizeof(a);
	struct timeval tmo = { .tv_sec = 5 };
	struct rlimit rl;
	char req[CHURN_REQ], buf[512];
	double t0, t, tc, slowest = 0, *times;
	long conns = 0, slow = 0, got;
	cpu_set_t mask, one;
	pthread_t th;
	ssize_t r;
	int s, cpu;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit");
	c.nfd = rl.rlim_cur;
	c.gen = calloc(c.nfd, sizeof(*c.gen));
	c.got = calloc(c.nfd, sizeof(*c.got));
	times = malloc(CHURN_MAX * sizeof(*times));
	if (!c.gen || !c.got || !times)
		die("calloc");
	if (sched_getaffinity(0, sizeof(mask), &mask))
		die("sched_getaffinity");
	for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, &mask); cpu--)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))	/* the server inherits it */
		die("sched_setaffinity");
	c.x = b_open(be);
	c.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c.x < 0 || c.lfd < 0)
		die("churn open");
	if (bind(c.lfd, (struct sockaddr *)&a, sizeof(a)) || listen(c.lfd, 64) ||
	    getsockname(c.lfd, (struct sockaddr *)&a, &alen))
		die("churn listen");
	if (b_ctl(be, c.x, EPOLL_CTL_ADD, c.lfd, EPOLLIN, CHURN_LISTENER))
		die("churn ADD listener");
	if (pthread_create(&th, NULL, churn_server, &c))
		die("pthread_create");
	memset(req, 'q', sizeof(req));
	t0 = now();
	tc = 0;
	do {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)))
			die("churn socket");
		if (connect(s, (struct sockaddr *)&a, sizeof(a)))
			die("churn connect");
		if (write(s, req, sizeof(req)) != sizeof(req))
			die("churn request");
		got = 0;
		while ((r = read(s, buf, sizeof(buf))) > 0)
			got += r;
		if (r < 0)
			die("churn read (no EOF within 5 s)");
		if (got != CHURN_REPLY) {
			fprintf(stderr, "churn: %ld bytes of reply, expected %d\n", got,
				CHURN_REPLY);
			exit(1);
		}
		close(s);
		conns++;
		t = now() - t0;
		/* A connection's time: a late FIN shows as a slow one. */
		times[conns - 1] = t - tc;
		if (t - tc > slowest)
			slowest = t - tc;
		slow += t - tc > 0.05;
		tc = t;
	} while ((t < 5 * budget || conns < 3) && conns < CHURN_MAX);
	atomic_store(&c.stop, 1);
	pthread_join(th, NULL);
	if (sched_setaffinity(0, sizeof(mask), &mask))
		die("sched_setaffinity");
	if (c.served != conns) {
		fprintf(stderr, "churn: %ld connections served, %ld made\n", c.served, conns);
		exit(1);
	}
	close(c.lfd);
	close(c.x);
	free(c.gen);
	free(c.got);
	qsort(times, conns, sizeof(*times), cmp_d);
	printf("# churn %s: %ld connections in %.2f s on CPU %d, median %.0f us, slowest %.1f ms, %ld over 50 ms\n",
	       be_name[be], conns, t, cpu, times[conns / 2] * 1e6, slowest * 1e3, slow);
	sample("churn", "c=1 close-no-DEL", "conn/s", be, rep, conns / t);
	sample("churn", "c=1 close-no-DEL", "p50_us", be, rep, times[conns / 2] * 1e6);
	free(times);
}

/* ---- main ------------------------------------------------------------------------------------ */

/* True if @w is one of the comma-separated words of @only. */
static int want(const char *only, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = only; (p = strstr(p, w)); p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

static void usage(const char *a0)
{
	fprintf(stderr,
		"usage: %s [--reps R] [--max-targets N] [--budget S] [--csv FILE] [--only W,...]\n"
		"          [--backend epoll|xpoll]\n"
		"       %s --table FILE.csv [--columns A,B]\n"
		"  workloads: null ctl wait ctlwait latency herd memory churn (default: all)\n"
		"  --max-targets: largest N for ctl/wait/memory (default 100000;\n"
		"                 1000000 adds the 1M ctl row, needs ~1M fds and RAM)\n"
		"  --table: only print the table of a CSV written before, whose two\n"
		"           columns are the backends named by --columns (default epoll,xpoll)\n",
		a0, a0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = "null,ctl,wait,ctlwait,latency,herd,memory,churn", *csvpath = NULL;
	const char *table = NULL;
	static char columns[64];
	static const long sizes[] = { 1000, 10000, 100000, 1000000 };
	struct utsname u;
	double t_start = now();
	int i, be, rep;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-targets") && i + 1 < argc)
			max_n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--budget") && i + 1 < argc)
			budget = atof(argv[++i]);
		else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
			csvpath = argv[++i];
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--table") && i + 1 < argc)
			table = argv[++i];
		else if (!strcmp(argv[i], "--columns") && i + 1 < argc &&
			 strchr(argv[i + 1], ',') &&
			 strlen(argv[i + 1]) < sizeof(columns)) {
			strcpy(columns, argv[++i]);
			col_name[1] = strchr(columns, ',') + 1;
			*strchr(columns, ',') = 0;
			col_name[0] = columns;
			ratio_name = "2nd/1st";
		} else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			only_be = !strcmp(argv[++i], "xpoll") ? XP :
				  !strcmp(argv[i], "epoll") ? EP : (usage(argv[0]), 0);
		else
			usage(argv[0]);
	}
	if (reps < 1 || reps > 64)
		usage(argv[0]);
	if (table)
		return print_csv_table(table);
	setvbuf(stdout, NULL, _IOLBF, 0);
	i = open(XPOLL_DEVICE, O_RDWR);
	if (i < 0)
		die("open " XPOLL_DEVICE " (is xpoll loaded?)");
	close(i);
	uname(&u);
	printf("# xpoll-bench: kernel %s, %ld CPUs, %d repetitions, epoll and xpoll alternating\n",
	       u.release, sysconf(_SC_NPROCESSORS_ONLN), reps);
	if (csvpath) {
		csv = fopen(csvpath, "w");
		if (!csv)
			die(csvpath);
		fprintf(csv, "workload,params,metric,backend,rep,value\n");
	}
	/* Only these use the eventfds (1M of them take a while to create). */
	if (want(only, "null") || want(only, "ctl") || want(only, "wait") ||
	    want(only, "ctlwait") || want(only, "memory"))
		make_targets(max_n);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		die("/dev/null");

	for (rep = 0; rep < reps; rep++) {
		printf("# repetition %d/%d (%.0f s)\n", rep + 1, reps, now() - t_start);
/* Runs `call` on both interfaces back to back, in this repetition's order. */
#define BOTH(call)							\
		for (int k = 0; k < 2; k++) {				\
			be = (rep + k) & 1;				\
			if (only_be < 0 || be == only_be)		\
				call;					\
		}
		if (want(only, "null")) {
			/* Not k: BOTH() has its own. */
			for (int nk = NULL_VERSION; nk <= NULL_READ_CHRDEV; nk++)
				BOTH(bench_null(be, rep, nk));
		}
		if (want(only, "ctl"))
			for (i = 0; i < 4 && sizes[i] <= max_n; i++)
				for (int batched = 0; batched < 2; batched++)
					BOTH(bench_ctl(be, rep, sizes[i], batched));
		if (want(only, "wait"))
			for (i = 0; i < 3 && sizes[i] <= max_n; i++)
				for (int et = 0; et < 2; et++) {
					BOTH(bench_wait(be, rep, sizes[i], 1, et));
					BOTH(bench_wait(be, rep, sizes[i], 64, et));
					BOTH(bench_wait(be, rep, sizes[i], sizes[i], et));
				}
		if (want(only, "ctlwait"))
			for (int c = 1; c <= 16; c *= 4)
				BOTH(bench_ctlwait(be, rep, c));
		if (want(only, "latency"))
			BOTH(bench_latency(be, rep));
		if (want(only, "herd"))
			for (int m = 2; m <= 16; m *= 2)
				for (int ex = 0; ex < 2; ex++)
					BOTH(bench_herd(be, rep, m, ex));
		if (want(only, "memory")) {
			BOTH(bench_memory(be, rep, max_n < 100000 ? max_n : 100000));
			BOTH(bench_memory_sock(be, rep, max_n < 20000 ? max_n : 20000));
		}
		if (want(only, "churn"))
			BOTH(bench_churn(be, rep));
#undef BOTH
	}
	print_table();
	printf("# total %.0f s\n", now() - t_start);
	if (csv)
		fclose(csv);
	return 0;
}
