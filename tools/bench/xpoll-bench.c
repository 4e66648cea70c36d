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
 *  pingpong cross-thread wakeup (issue 15): two threads, an instance each;
 *           a turn wakes the other thread and waits for its own wakeup.
 *           epoll: write(the other's ET eventfd) + epoll_wait(own); xpoll:
 *           one XPOLL_IOC_CTL_WAIT whose change list triggers the other
 *           instance's ET user event, and (second row) the same as a
 *           trigger call + a wait.  Round trips/s, p50/p99 round trip
 *  fixedrate  producers write eventfds at a fixed aggregate rate, one
 *           consumer waits and drains (issue 15, epoll's min_wait test):
 *           wakeups, returns and CPU per event, latency added; epoll_wait
 *           against xpoll's minimum-wait batching (min_events, min_wait_ns)
 *           and, as a control, xpoll with min_events 1
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
 *  ring1, ring64  the ready ring (XPOLL_FEAT_RING): events taken 1 (64) per
 *           call from N eventfds (EPOLLET), libxpoll's xpoll_ring_harvest()
 *           (xpoll_ring_wait() only when the ring is empty) against
 *           epoll_wait() with maxevents 1 (64); "retrigger": the consumer
 *           writes each event's eventfd again (a whole event loop's turn),
 *           "drain": N events made beforehand, the taking alone timed
 *  ringhttp a small HTTP/1.1 server, the same code on epoll ET and on a
 *           ring instance, against a load generator in the same program:
 *           requests/s and the server's CPU time per request, keep-alive
 *           and one connection per request
 *  ringmem  memory per watch of a ring instance (slab + its mapping), of a
 *           plain xpoll instance, and of epoll
 *  ringaa   A/A control of the ring rows (only when named): one consumer,
 *           epoll or the ring, in both columns, alternating as every row
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <linux/xpoll.h>
#include <xpoll/xpoll.h>	/* libxpoll: the ready ring's consumer */

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
		"ms/request", "cpu_us/event", "p99-minwait_us", "slab_bytes/watch",
		"cpu_us/req",
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

/* ---- 3b. cross-thread wakeup ping-pong (issue 15) --------------------------------------- */

/*
 * Two threads, each with an instance of its own; a turn of one thread
 * wakes the other and waits until it is woken back.
 *  epoll: each thread's wakeup is an eventfd, EPOLLET, in its own epoll
 *         (never read: an edge per write is all a wakeup needs); a turn is
 *         write(the other's eventfd) + epoll_wait(own).
 *  xpoll: each thread's wakeup is an EPOLLET user event of its own
 *         instance (never cleared, for the same reason); a turn is ONE
 *         XPOLL_IOC_CTL_WAIT (libxpoll's xpoll_ctl_wait()) on its own
 *         instance whose change list holds an XPOLL_CTL_TRIGGER aimed at
 *         the other instance (fd = its descriptor, XPOLL_CTL_USER).
 *  xpoll, 2 calls (@two_calls): the trigger as a call of its own
 *         (XPOLL_IOC_CTL on the other instance: xpoll_user_trigger()), then
 *         XPOLL_IOC_WAIT: what the one call saves.
 * Thread A (the caller) times each round trip (one clock read per round
 * trip: the time between two returns of its wait); B only turns.  Round
 * trips per second over the sample, p50 and p99 of the round trip.
 */
#define PP_KEY 0x5050	/* the user event's key, and the data of every wakeup */

/* --pingpong-cpus: both threads on one CPU, one on each of two, or free */
enum { PP_SAME, PP_SPLIT, PP_FREE };
static const char *const pp_cpus_name[] = { "same", "split", "free" };
static int pp_cpus = PP_SAME;
static int pp_calls;	/* --pingpong-calls: 1 or 2 (xpoll's calls per turn), 0 both rows */

struct pingpong {
	int be, two_calls, x[2], e[2], cpu[2];
	atomic_int stop, b_cpu;	/* b_cpu: the CPU of B's last turn */
};

/* Pins the calling thread to @cpu (< 0: leaves it as it is). */
static void pin_to(int cpu)
{
	cpu_set_t one;

	if (cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		die("sched_setaffinity");
}

/* Thread @me wakes the other one and waits for its own wakeup. */
static void pp_turn(struct pingpong *pp, int me, int wake_other)
{
	struct epoll_event ev;
	int r, other = !me;

	if (pp->be == EP) {
		uint64_t v = 1;

		if (wake_other && write(pp->e[other], &v, 8) != 8)
			die("pingpong write");
		r = epoll_wait(pp->x[me], &ev, 1, -1);
	} else {
		struct xpoll_ctl trig = {
			.op = XPOLL_CTL_TRIGGER, .flags = XPOLL_CTL_USER,
			.fd = pp->x[other], .key = PP_KEY, .events = EPOLLIN,
		};
		int32_t res = 0;
		struct xpoll_ctl_wait cw = {
			.ctls = (uintptr_t)&trig, .results = (uintptr_t)&res,
			.nr = wake_other,
			.wait = { .events = (uintptr_t)&ev, .maxevents = 1, .timeout_ns = -1 },
		};

		if (wake_other && pp->two_calls) {
			/* xpoll_user_trigger(x[other], PP_KEY, EPOLLIN) */
			trig.fd = -1;
			if (ioctl(pp->x[other], XPOLL_IOC_CTL, &trig))
				die("pingpong trigger");
			cw.nr = 0;
			r = ioctl(pp->x[me], XPOLL_IOC_WAIT, &cw.wait);
		} else {
			r = ioctl(pp->x[me], XPOLL_IOC_CTL_WAIT, &cw);
			if (r >= 0 && (cw.nr_done != cw.nr || res)) {
				errno = -res;
				die("pingpong ctl+wait trigger");
			}
		}
	}
	if (r != 1 || ev.data.u64 != PP_KEY || !(ev.events & EPOLLIN)) {
		fprintf(stderr, "pingpong %s: wait returned %d (data %#llx events %#x)\n",
			be_name[pp->be], r, (unsigned long long)ev.data.u64, ev.events);
		exit(1);
	}
}

static void *pp_thread_b(void *arg)
{
	struct pingpong *pp = arg;

	pin_to(pp->cpu[1]);
	pp_turn(pp, 1, 0);	/* the first wakeup */
	while (!atomic_load(&pp->stop)) {
		atomic_store_explicit(&pp->b_cpu, sched_getcpu(), memory_order_relaxed);
		pp_turn(pp, 1, 1);
	}
	return NULL;
}

static void bench_pingpong(int be, int rep, int two_calls)
{
	struct pingpong pp = { .be = be, .two_calls = two_calls };
	enum { MAXRT = 1 << 20 };
	char p[64];
	double *rt = malloc(MAXRT * sizeof(*rt)), t0, t, tp;
	long n = 0, apart = 0;
	struct rusage ru0, ru1;
	pthread_t th;
	cpu_set_t mask;
	int cpu;

	if (!rt)
		die("malloc");
	if (sched_getaffinity(0, sizeof(mask), &mask))
		die("sched_getaffinity");
	/* The last CPU this thread may use, and the one before it for split. */
	for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, &mask); cpu--)
		;
	pp.cpu[0] = pp.cpu[1] = pp_cpus == PP_FREE ? -1 : cpu;
	if (pp_cpus == PP_SPLIT) {
		while (--cpu >= 0 && !CPU_ISSET(cpu, &mask))
			;
		pp.cpu[0] = cpu;	/* -1 if there is only one: free */
	}
	pin_to(pp.cpu[0]);
	snprintf(p, sizeof(p), "xpoll %s/turn CPUs=%s", two_calls ? "2 calls" : "1 call",
		 pp_cpus_name[pp_cpus]);
	for (int i = 0; i < 2; i++) {
		pp.x[i] = b_open(be);
		if (pp.x[i] < 0)
			die("pingpong open");
		if (be == EP) {
			pp.e[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (pp.e[i] < 0 || b_ctl(be, pp.x[i], EPOLL_CTL_ADD, pp.e[i],
						 EPOLLIN | EPOLLET, PP_KEY))
				die("pingpong eventfd ADD");
		} else {
			struct xpoll_ctl c = {
				.op = XPOLL_CTL_ADD, .fd = -1, .flags = XPOLL_CTL_USER,
				.key = PP_KEY, .events = EPOLLIN | EPOLLET, .data = PP_KEY,
			};

			pp.e[i] = -1;
			if (ioctl(pp.x[i], XPOLL_IOC_CTL, &c))
				die("pingpong user event ADD");
		}
	}
	if (pthread_create(&th, NULL, pp_thread_b, &pp))
		die("pthread_create");
	getrusage(RUSAGE_THREAD, &ru0);
	t0 = tp = now();
	do {
		pp_turn(&pp, 0, 1);
		t = now();
		/* woken by B's turn on another CPU: a wakeup across CPUs */
		apart += sched_getcpu() != atomic_load_explicit(&pp.b_cpu, memory_order_relaxed);
		rt[n++] = (t - tp) * 1e6;
		tp = t;
	} while ((t - t0 < 5 * budget || n < 200) && n < MAXRT);
	getrusage(RUSAGE_THREAD, &ru1);
	/* B is in its wait, or about to: this wakeup is its last */
	atomic_store(&pp.stop, 1);
	if (be == EP) {
		uint64_t v = 1;

		if (write(pp.e[1], &v, 8) != 8)
			die("pingpong write");
	} else {
		struct xpoll_ctl trig = {
			.op = XPOLL_CTL_TRIGGER, .flags = XPOLL_CTL_USER, .fd = -1,
			.key = PP_KEY, .events = EPOLLIN,
		};

		if (ioctl(pp.x[1], XPOLL_IOC_CTL, &trig))
			die("pingpong trigger");
	}
	pthread_join(th, NULL);
	if (sched_setaffinity(0, sizeof(mask), &mask))
		die("sched_setaffinity");
	for (int i = 0; i < 2; i++) {
		close(pp.x[i]);
		if (pp.e[i] >= 0)
			close(pp.e[i]);
	}
	qsort(rt, n, sizeof(*rt), cmp_d);
	/*
	 * A's context switches per round trip: voluntary (it slept in its
	 * wait) or involuntary (B, just woken, preempted it, e.g. at the
	 * return from write(); its wait then finds B's wakeup and does not
	 * sleep).
	 */
	printf("# pingpong %s%s, CPUs %d and %d: %ld round trips in %.2f s (%.0f %% across CPUs, "
	       "A switched %.2f vol %.2f invol per round trip), p50 %.1f us, p99 %.1f us, max %.0f us\n",
	       be_name[be], be == XP ? (two_calls ? " (2 calls/turn)" : " (1 call/turn)") : "",
	       pp.cpu[0], pp.cpu[1], n, t - t0, 100.0 * apart / n,
	       (double)(ru1.ru_nvcsw - ru0.ru_nvcsw) / n, (double)(ru1.ru_nivcsw - ru0.ru_nivcsw) / n,
	       rt[n / 2], rt[n * 99 / 100], rt[n - 1]);
	sample("pingpong", p, "roundtrips/s", be, rep, n / (t - t0));
	sample("pingpong", p, "p50_us", be, rep, rt[n / 2]);
	sample("pingpong", p, "p99_us", be, rep, rt[n * 99 / 100]);
	free(rt);
}

/* ---- 3c. fixed-rate producers, one consumer: wakeups per event (issue 15) ------------------ */

/*
 * The measurement behind epoll's min_wait (Jens Axboe, 2022): producer
 * threads write eventfds at a fixed aggregate rate, one consumer waits and
 * drains them.  At the same load: how often the consumer wakes per event,
 * what it costs it per event, and how much later it sees an event.
 *  - fr_producers threads, one eventfd each (EPOLLET in the consumer's
 *    instance), interleaved so that the aggregate rate is fr_rate: producer
 *    i writes its k-th event at start + (i + k * P) / rate, paced with
 *    clock_nanosleep() to absolute deadlines (a late producer writes at
 *    once and does not skip), timer slack 1 ns so that the producers do not
 *    fall into step.  Before each write it stores the time in a ring of its
 *    own; the consumer reads the eventfd (the count of writes since its last
 *    read) and takes, for each of those writes, the time after the read
 *    less the stored one: the latency added.
 *  - epoll: epoll_wait(); xpoll: XPOLL_IOC_WAIT with min_events fr_min and
 *    min_wait_ns fr_min_wait_us (libxpoll's xpoll_wait_min()), and the
 *    control: the same with min_events 1, an ordinary wait.
 *  - metrics per event written: returns/event (waits that returned
 *    events), wakeups/event (the consumer thread's voluntary context
 *    switches, less waits that timed out), cpu_us/event (its utime +
 *    stime, RUSAGE_THREAD); p50_us and p99_us of the latency; and
 *    p99-minwait_us, the p99 less min_wait (epoll: its p99), whose ratio is
 *    the target (xpoll's p99 within min_wait of epoll's) as a
 *    ratio <= 1; events/s, the rate reached (the load is only the same if
 *    both reach fr_rate).
 */
/*
 * Defaults: Axboe measured at 20k events/s with a 200 us min_wait, about
 * 4 events per window.  A TCG guest does not sustain 20k/s (6-18k/s
 * reached, nearly every write late, even on epoll), so the same 4 events
 * per window come from 4k/s and 1 ms here; both are options.
 */
static long fr_rate = 4000, fr_min = 16, fr_min_wait_us = 1000;
static int fr_producers = 4;
static double fr_secs = 2;

#define FR_MAXP 64
#define FR_RING 16384	/* per producer: times of writes not yet read */

struct fixedrate {
	int be, x, efd[FR_MAXP];
	unsigned int min_events;
	long per_producer;
	struct timespec start;
	uint64_t ts[FR_MAXP][FR_RING];	/* ns, CLOCK_MONOTONIC */
	long late[FR_MAXP];
	double *wake_late;	/* us: how late each producer's timer woke it */
};

struct fr_producer {
	struct fixedrate *fr;
	int i;
};

static uint64_t ns_of(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + t->tv_nsec;
}

static void *fr_producer_thread(void *arg)
{
	struct fr_producer *fp = arg;
	struct fixedrate *fr = fp->fr;
	uint64_t start = ns_of(&fr->start), v = 1;
	struct timespec d, t;

	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	for (long k = 0; k < fr->per_producer; k++) {
		uint64_t due = start + (uint64_t)((fp->i + (double)k * fr_producers) * 1e9 / fr_rate);

		d.tv_sec = due / 1000000000ull;
		d.tv_nsec = due % 1000000000ull;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR)
			;
		clock_gettime(CLOCK_MONOTONIC, &t);
		fr->wake_late[fp->i * fr->per_producer + k] =
			ns_of(&t) > due ? (ns_of(&t) - due) / 1e3 : 0;
		/* late: past the deadline of its own next write */
		if (ns_of(&t) > due + (uint64_t)(1e9 * fr_producers / fr_rate))
			fr->late[fp->i]++;
		__atomic_store_n(&fr->ts[fp->i][k % FR_RING], ns_of(&t), __ATOMIC_RELEASE);
		if (write(fr->efd[fp->i], &v, 8) != 8)
			die("fixedrate write");
	}
	return NULL;
}

static void bench_fixedrate(int be, int rep, int control)
{
	struct fixedrate *fr = calloc(1, sizeof(*fr));
	struct fr_producer fp[FR_MAXP];
	pthread_t th[FR_MAXP];
	struct epoll_event ev[64];
	struct rusage ru0, ru1;
	struct timespec t;
	long total, seen = 0, returns = 0, timeouts = 0, next[FR_MAXP] = { 0 }, lates = 0;
	double *lat, cpu, t_end;
	char p[64];
	int r;

	if (!fr)
		die("calloc");
	fr->be = be;
	fr->min_events = control ? 1 : fr_min;
	fr->per_producer = (long)(fr_rate * fr_secs / fr_producers);
	total = fr->per_producer * fr_producers;
	lat = malloc(total * sizeof(*lat));
	fr->wake_late = malloc(total * sizeof(*fr->wake_late));
	fr->x = b_open(be);
	if (!lat || !fr->wake_late || fr->x < 0)
		die("fixedrate open");
	for (int i = 0; i < fr_producers; i++) {
		fr->efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fr->efd[i] < 0 || b_ctl(be, fr->x, EPOLL_CTL_ADD, fr->efd[i],
					    EPOLLIN | EPOLLET, i))
			die("fixedrate eventfd ADD");
	}
	/* The producers start together 20 ms from now, the consumer asleep by then. */
	clock_gettime(CLOCK_MONOTONIC, &fr->start);
	fr->start.tv_nsec += 20000000;
	if (fr->start.tv_nsec >= 1000000000) {
		fr->start.tv_sec++;
		fr->start.tv_nsec -= 1000000000;
	}
	for (int i = 0; i < fr_producers; i++) {
		fp[i].fr = fr;
		fp[i].i = i;
		if (pthread_create(&th[i], NULL, fr_producer_thread, &fp[i]))
			die("pthread_create");
	}
	/* The consumer is this thread. */
	getrusage(RUSAGE_THREAD, &ru0);
	while (seen < total) {
		if (be == XP) {
			struct xpoll_wait w = {
				.events = (uintptr_t)ev, .maxevents = 64,
				.timeout_ns = 1000000000, .min_events = fr->min_events,
				.min_wait_ns = fr_min_wait_us * 1000,
			};

			r = ioctl(fr->x, XPOLL_IOC_WAIT, &w);
		} else {
			r = epoll_wait(fr->x, ev, 64, 1000);
		}
		if (r < 0 && errno != EINTR)
			die("fixedrate wait");
		if (r <= 0) {
			if (++timeouts > 5) {
				fprintf(stderr, "fixedrate %s: no event for 5 s (%ld of %ld seen)\n",
					be_name[be], seen, total);
				exit(1);
			}
			continue;
		}
		returns++;
		for (int j = 0; j < r; j++) {
			int i = (int)ev[j].data.u64;
			uint64_t v;

			if (read(fr->efd[i], &v, 8) != 8) {
				if (errno == EAGAIN)
					continue;	/* read already, with an earlier event */
				die("fixedrate read");
			}
			/* after the read: it may count writes made since the wait returned */
			clock_gettime(CLOCK_MONOTONIC, &t);
			for (uint64_t k = 0; k < v && seen < total; k++, next[i]++) {
				uint64_t w = __atomic_load_n(&fr->ts[i][next[i] % FR_RING],
							     __ATOMIC_ACQUIRE);

				lat[seen++] = (ns_of(&t) - w) / 1e3;
			}
		}
	}
	getrusage(RUSAGE_THREAD, &ru1);
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < fr_producers; i++) {
		pthread_join(th[i], NULL);
		close(fr->efd[i]);
		lates += fr->late[i];
	}
	close(fr->x);
	t_end = (ns_of(&t) - ns_of(&fr->start)) / 1e9;
	cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
	       ru0.ru_stime.tv_sec) * 1e6 +
	      (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
	       ru0.ru_stime.tv_usec);
	qsort(lat, total, sizeof(*lat), cmp_d);
	qsort(fr->wake_late, total, sizeof(*lat), cmp_d);
	snprintf(p, sizeof(p), "P=%d %ld/s min=%u wait=%ldus", fr_producers, fr_rate,
		 fr->min_events, fr_min_wait_us);
	printf("# fixedrate %s min_events %u: %ld events in %.2f s (%.0f/s, %ld written a period late), "
	       "%ld returns, %ld csw, %.0f us CPU, latency p50 %.0f p90 %.0f p99 %.0f max %.0f us; "
	       "producers woke late by p50 %.0f p90 %.0f p99 %.0f us\n",
	       be_name[be], be == XP ? fr->min_events : 1, total, t_end, total / t_end, lates,
	       returns, ru1.ru_nvcsw - ru0.ru_nvcsw, cpu, lat[total / 2], lat[total * 90 / 100],
	       lat[total * 99 / 100], lat[total - 1], fr->wake_late[total / 2],
	       fr->wake_late[total * 90 / 100], fr->wake_late[total * 99 / 100]);
	sample("fixedrate", p, "returns/event", be, rep, (double)returns / total);
	sample("fixedrate", p, "wakeups/event", be, rep,
	       (double)(ru1.ru_nvcsw - ru0.ru_nvcsw - timeouts) / total);
	sample("fixedrate", p, "cpu_us/event", be, rep, cpu / total);
	sample("fixedrate", p, "p50_us", be, rep, lat[total / 2]);
	sample("fixedrate", p, "p99_us", be, rep, lat[total * 99 / 100]);
	if (!control)
		sample("fixedrate", p, "p99-minwait_us", be, rep,
		       lat[total * 99 / 100] - (be == XP ? fr_min_wait_us : 0));
	sample("fixedrate", p, "events/s", be, rep, total / t_end);
	free(lat);
	free(fr->wake_late);
	free(fr);
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

/* ---- 8. the ready ring (XPOLL_FEAT_RING) --------------------------------------------------- */

/*
 * The ring rows put one consumer on epoll (ET items, epoll_wait()) against
 * the same consumer on a ring instance of xpoll (its items are ET too, the
 * ring's rule), whose events come from libxpoll's xpoll_ring_harvest()
 * without a system call, and from xpoll_ring_wait() (a harvest, then a
 * sleep in XPOLL_IOC_WAIT) only when the ring is empty.  The column is the
 * backend as in every row; @impl says which consumer runs in it, so that
 * the A/A rows (ringaa) can run one consumer in both columns.
 */
enum { IMPL_EPOLL, IMPL_RING, IMPL_PLAIN };
static const char *const impl_name[] = { "epoll", "ring", "xpoll" };
/*
 * --xpoll-column plain: the xpoll column runs a plain xpoll instance
 * (XPOLL_IOC_WAIT, the same ET items) instead of the ring, to tell what
 * the ring changes from what any xpoll instance does (diagnosis; the
 * rows' params then end in " plain").
 */
static int xp_impl = IMPL_RING;

struct rq {
	int impl, x;
	struct xpoll_ring r;
	long gets, sleeps, events;	/* calls, falls back to the wait, events */
};

static unsigned int pow2_at_least(unsigned long n)
{
	unsigned int e = 1;

	while (e < n)
		e <<= 1;
	return e;
}

/* A consumer of @impl able to hold @items items (a ring's slots). */
static void rq_open(struct rq *q, int impl, unsigned long items)
{
	memset(q, 0, sizeof(*q));
	q->impl = impl;
	if (impl == IMPL_EPOLL) {
		q->x = epoll_create1(EPOLL_CLOEXEC);
		if (q->x < 0)
			die("epoll_create1");
		return;
	}
	q->x = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	if (q->x < 0)
		die("open " XPOLL_DEVICE);
	if (impl == IMPL_RING && xpoll_ring_setup(q->x, pow2_at_least(items), &q->r))
		die("xpoll_ring_setup");
}

static void rq_close(struct rq *q)
{
	if (q->impl == IMPL_RING && xpoll_ring_unmap(&q->r))
		die("xpoll_ring_unmap");
	close(q->x);
}

static int rq_add(struct rq *q, int fd, uint32_t ev, uint64_t data)
{
	return b_ctl(q->impl == IMPL_EPOLL ? EP : XP, q->x, EPOLL_CTL_ADD, fd, ev, data);
}

/*
 * Up to @max events: epoll_wait(), or a harvest and, only if the ring is
 * empty, xpoll_ring_wait() (which harvests again before it sleeps).
 * @timeout_ms: < 0 forever, 0 no sleep.
 */
static inline int rq_get(struct rq *q, struct epoll_event *ev, int max, int timeout_ms)
{
	int n;

	q->gets++;
	if (q->impl == IMPL_EPOLL) {
		n = epoll_wait(q->x, ev, max, timeout_ms);
	} else if (q->impl == IMPL_PLAIN) {
		n = b_wait(XP, q->x, ev, max, timeout_ms);
	} else {
		n = xpoll_ring_harvest(&q->r, ev, max);
		if (!n && timeout_ms) {
			q->sleeps++;
			n = xpoll_ring_wait(&q->r, ev, max,
					    timeout_ms < 0 ? -1 : timeout_ms * 1000000LL, NULL);
		}
	}
	if (n > 0)
		q->events += n;
	return n;
}

/* The last CPU this thread may use; *mask gets the whole set. */
static int last_cpu(cpu_set_t *mask)
{
	int cpu;

	if (sched_getaffinity(0, sizeof(*mask), mask))
		die("sched_getaffinity");
	for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, mask); cpu--)
		;
	return cpu;
}

static const long ring_sizes[] = { 1024, 65536 };
/* --ring-n, --ring-mode, --http-*: one case of the ring rows (profiling) */
static long ring_only_n;
static int ring_only_mode = -1;	/* 0 retrigger, 1 drain */
static int http_only_conns, http_only_ka = -1, http_only_split = -1;

static int ring_case(long n, int drain)
{
	return (!ring_only_n || n == ring_only_n) && (ring_only_mode < 0 || drain == ring_only_mode);
}

static int http_case(int conns, int keepalive, int split)
{
	return (!http_only_conns || conns == http_only_conns) &&
	       (http_only_ka < 0 || keepalive == http_only_ka) &&
	       (http_only_split < 0 || split == http_only_split);
}

/*
 * ring1 (K = 1) and ring64 (K = 64): events/s taken by one consumer from N
 * eventfds, every item EPOLLIN | EPOLLET, on one CPU (the last; a single
 * thread, so no wakeup across vCPUs, which a TCG guest makes slow and
 * erratic).  Two ways:
 *  retrigger  all N are made ready once; then each call takes K events and
 *             writes 1 to each event's eventfd, a new edge that puts it
 *             back at the end of the ready list (epoll) or the ring (xpoll):
 *             N events stay ready, the consumer never sleeps and is the
 *             only thing that runs.  What is timed is an event loop's
 *             whole turn: the take, and the write()s that make the next
 *             events, the same on both (the wait ET rows do the same).
 *  drain      all N are made ready (not timed), then taken K per call until
 *             none is left (timed): the consumer's cost alone, with events
 *             always there (epoll_wait() with timeout 0, the harvest with no
 *             fallback to the wait).
 * Every call must return K events (N >= K ready, drain: the last call may
 * return fewer), and the data of each must be one of the N: a ring that
 * lost an event would end the retrigger loop empty (an error after 1 s).
 * No producer thread: under TCG a write() that makes an event costs more
 * than epoll's taking of one, so a producer on the other vCPU would be
 * the bottleneck of both consumers, and a wakeup across vCPUs waits for
 * the host to run the other vCPU's thread.
 */
static void bench_ring(const char *wl, int be, int impl, int rep, long n, int k, int drain)
{
	static struct epoll_event ev[64];
	const uint64_t one = 1;
	char p[64];
	double t0, t = 0;
	long events = 0;
	cpu_set_t mask, pin;
	struct rq q;
	int r;

	if (n > nefd || !ring_case(n, drain))
		return;
	CPU_ZERO(&pin);
	CPU_SET(last_cpu(&mask), &pin);
	if (sched_setaffinity(0, sizeof(pin), &pin))
		die("sched_setaffinity");
	if (!strcmp(wl, "ringaa"))
		snprintf(p, sizeof(p), "K=%d N=%ld %s %s|%s", k, n, drain ? "drain" : "retrigger",
			 impl_name[impl], impl_name[impl]);
	else
		snprintf(p, sizeof(p), "N=%ld %s%s", n, drain ? "drain" : "retrigger",
			 xp_impl == IMPL_PLAIN ? " plain" : "");
	set_ready(n, 0);
	rq_open(&q, impl, n);
	for (long i = 0; i < n; i++)
		if (rq_add(&q, efd[i], EPOLLIN | EPOLLET, i))
			die("ring ADD");
	if (!drain) {
		set_ready(n, 1);
		t0 = now();
		do {
			for (int b = 0; b < (k == 1 ? 64 : 4); b++) {
				r = rq_get(&q, ev, k, 1000);
				if (r != k) {
					fprintf(stderr, "%s %s %s: %d events, expected %d\n", wl, p,
						impl_name[impl], r, k);
					exit(1);
				}
				for (int j = 0; j < r; j++) {
					if (ev[j].data.u64 >= (uint64_t)n)
						die("ring: bad data");
					if (write(efd[ev[j].data.u64], &one, 8) != 8)
						die("ring write");
				}
				events += r;
			}
			t = now() - t0;
		} while (t < budget);
	} else {
		do {
			long got = 0;

			set_ready(n, 1);
			t0 = now();
			while (got < n) {
				r = rq_get(&q, ev, k, 0);
				if (r < 1 || (r != k && got + r != n)) {
					fprintf(stderr, "%s %s %s: %d events after %ld of %ld\n", wl, p,
						impl_name[impl], r, got, n);
					exit(1);
				}
				got += r;
			}
			t += now() - t0;
			events += got;
			if (rq_get(&q, ev, k, 0) != 0) {
				fprintf(stderr, "%s %s %s: an event past the %ld made\n", wl, p,
					impl_name[impl], n);
				exit(1);
			}
		} while (t < budget);
	}
	if (q.sleeps)
		printf("# %s %s %s: %ld of %ld calls slept\n", wl, p, impl_name[impl], q.sleeps,
		       q.gets);
	rq_close(&q);
	set_ready(n, 0);
	if (sched_setaffinity(0, sizeof(mask), &mask))
		die("sched_setaffinity");
	sample(wl, p, "events/s", be, rep, events / t);
}

/*
 * ringmem: memory per watch of N = 65,536 watches (eventfds, EPOLLIN |
 * EPOLLET): epoll against a plain xpoll instance ("plain"), and against a
 * ring instance of 65,536 slots, full ("ring").  bytes/watch: the growth of
 * SUnreclaim from before the instance is opened to after the N ADDs, plus
 * for the ring its mapping (mmap_size, pages the kernel allocated at the
 * setup) divided by N; slab_bytes/watch: the slab growth alone.  The #
 * line also gives how MemFree and VmallocUsed moved, to see where the
 * mapping's pages came from.
 */
static long meminfo_kb(const char *key)
{
	char line[128], k[64];
	long kb = -1, v;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %ld kB", k, &v) == 2 && !strcmp(k, key)) {
			kb = v;
			break;
		}
	if (f)
		fclose(f);
	return kb;
}

static void bench_ringmem(int be, int rep, long n, int ring)
{
	long slab0, slab1, free0, free1, vm0, vm1;
	double slab, map = 0;
	struct rq q;
	char p[64];

	if (n > nefd)
		return;
	snprintf(p, sizeof(p), "N=%ld %s", n, ring ? "ring" : "plain");
	usleep(200000);
	slab0 = sunreclaim_kb();
	free0 = meminfo_kb("MemFree");
	vm0 = meminfo_kb("VmallocUsed");
	if (be == EP)
		rq_open(&q, IMPL_EPOLL, n);
	else if (ring)
		rq_open(&q, IMPL_RING, n);
	else {
		memset(&q, 0, sizeof(q));
		q.impl = -1;
		q.x = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
		if (q.x < 0)
			die("open " XPOLL_DEVICE);
	}
	for (long i = 0; i < n; i++)
		if (b_ctl(be, q.x, EPOLL_CTL_ADD, efd[i], EPOLLIN | EPOLLET, i))
			die("ringmem ADD");
	slab1 = sunreclaim_kb();
	free1 = meminfo_kb("MemFree");
	vm1 = meminfo_kb("VmallocUsed");
	slab = (slab1 - slab0) * 1024.0 / n;
	if (q.impl == IMPL_RING)
		map = (double)q.r.size / n;
	printf("# ringmem %s %s: slab %+ld kB, MemFree %+ld kB, VmallocUsed %+ld kB, mapping %.0f kB; "
	       "%.1f B/watch slab + %.1f B/watch mapping\n", p,
	       be == EP ? "epoll" : ring ? "ring" : "xpoll", slab1 - slab0, free1 - free0, vm1 - vm0,
	       q.impl == IMPL_RING ? q.r.size / 1024.0 : 0.0, slab, map);
	if (q.impl == IMPL_RING)
		rq_close(&q);
	else
		close(q.x);
	sample("ringmem", p, "bytes/watch", be, rep, slab + map);
	sample("ringmem", p, "slab_bytes/watch", be, rep, slab);
}

/*
 * ringhttp: requests/s of a small HTTP/1.1 server, the same code on epoll
 * (ET) and on a ring instance, against a load generator in the same
 * program (a client thread on a plain epoll instance, the same in both
 * columns).  The server: one thread, a non-blocking listener and its
 * connections, every item EPOLLIN | EPOLLRDHUP | EPOLLET; up to 64 events
 * per call (epoll_wait(), or a harvest and xpoll_ring_wait() only when
 * empty); the listener is accepted until EAGAIN; a connection is read
 * until a read returns less than asked (nginx's rule for ET sockets; until
 * EAGAIN or EOF after EPOLLRDHUP), each complete request (headers ending
 * in an empty line) gets a 200 with a 128-byte body, and a request with
 * "Connection: close" is answered and its connection closed (without DEL,
 * as nginx does).
 * The client: C connections; keepalive: each keeps one request
 * outstanding on its connection, a new one as soon as the whole answer is
 * in; close: each connection sends one request with Connection: close,
 * reads the answer up to EOF (the server's FIN), closes and is replaced by
 * a new connection.  Every answer is compared byte for byte.  For 5 x
 * --budget (1 s).  CPUs: same (default; both threads on the last vCPU, as
 * churn: throughput is then 1 / (server + client cost) per request) or
 * split (the server on the last vCPU, the client on the one before: the
 * server's cost alone bounds throughput only if the client is faster).
 * Metrics: req/s, and the server thread's CPU time per request
 * (cpu_us/req, RUSAGE_THREAD), which the client's share does not dilute.
 */
#define HTTP_LISTENER UINT64_MAX
#define HTTP_BUF 1024
static const char http_req_ka[] =
	"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: xpoll-bench\r\n"
	"Accept: */*\r\n\r\n";
static const char http_req_close[] =
	"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: xpoll-bench\r\n"
	"Accept: */*\r\nConnection: close\r\n\r\n";
#define HTTP_HDR "HTTP/1.1 200 OK\r\nServer: xpoll-bench\r\nContent-Type: text/plain\r\n" \
	"Content-Length: 128\r\n"
#define HTTP_BODY "xpoll-bench ringhttp 0123456789abcdef0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef0123456789abcdef01234567\n"
static const char http_resp_ka[] = HTTP_HDR "\r\n" HTTP_BODY;
static const char http_resp_close[] = HTTP_HDR "Connection: close\r\n\r\n" HTTP_BODY;

struct http_conn {
	uint32_t gen, len;
	char buf[HTTP_BUF];
};

struct http {
	struct rq q;
	int lfd, cpu[2];
	atomic_int stop;
	long nfd, served, closed;
	uint32_t seq;
	struct http_conn *conn;	/* per fd */
	double cpu_us;		/* the server thread's */
};

static void http_close(struct http *h, int fd)
{
	h->conn[fd].gen = 0;
	h->closed++;
	close(fd);	/* no DEL, as nginx */
}

/* A connection's event: read what came, answer each complete request. */
static void http_serve(struct http *h, int fd, uint32_t events)
{
	struct http_conn *c = &h->conn[fd];

	for (;;) {
		size_t space = sizeof(c->buf) - c->len;
		ssize_t r = read(fd, c->buf + c->len, space);
		char *end;

		if (r < 0) {
			if (errno == EAGAIN)
				return;
			if (errno == ECONNRESET) {
				http_close(h, fd);
				return;
			}
			die("ringhttp server read");
		}
		if (r == 0) {
			http_close(h, fd);
			return;
		}
		c->len += r;
		while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
			size_t rl = end + 4 - c->buf;
			int cl = memmem(c->buf, rl, "Connection: close", 17) != NULL;
			const char *resp = cl ? http_resp_close : http_resp_ka;
			size_t len = cl ? sizeof(http_resp_close) - 1 : sizeof(http_resp_ka) - 1;

			if (strncmp(c->buf, "GET ", 4))
				die("ringhttp: not a GET");
			if (write(fd, resp, len) != (ssize_t)len)
				die("ringhttp server write");
			h->served++;
			c->len -= rl;
			memmove(c->buf, c->buf + rl, c->len);
			if (cl) {
				http_close(h, fd);
				return;
			}
		}
		if (c->len == sizeof(c->buf))
			die("ringhttp: request too large");
		if ((size_t)r < space && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			return;	/* all there was: the next data makes a new edge */
	}
}

static void *http_server(void *arg)
{
	struct http *h = arg;
	struct epoll_event ev[64];
	struct rusage ru0, ru1;
	int n, fd;

	pin_to(h->cpu[0]);
	pthread_setname_np(pthread_self(), "ringhttp-srv");	/* apart in profiles */
	getrusage(RUSAGE_THREAD, &ru0);
	while (!atomic_load_explicit(&h->stop, memory_order_relaxed)) {
		n = rq_get(&h->q, ev, 64, 100);
		if (n < 0 && errno != EINTR)
			die("ringhttp server wait");
		for (int i = 0; i < n; i++) {
			uint64_t d = ev[i].data.u64;

			if (d == HTTP_LISTENER) {
				for (;;) {
					fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0) {
						if (errno == EAGAIN)
							break;
						if (errno == ECONNABORTED)
							continue;
						die("ringhttp accept");
					}
					if (fd >= h->nfd) {
						fprintf(stderr, "ringhttp: fd %d above RLIMIT_NOFILE\n", fd);
						exit(1);
					}
					if (!++h->seq)
						h->seq = 1;	/* 0 marks a free fd */
					h->conn[fd].gen = h->seq;
					h->conn[fd].len = 0;
					if (rq_add(&h->q, fd, EPOLLIN | EPOLLRDHUP | EPOLLET,
						   (uint64_t)h->seq << 32 | (uint32_t)fd))
						die("ringhttp ADD");
				}
				continue;
			}
			fd = (int)(uint32_t)d;
			if (fd >= h->nfd || !h->conn[fd].gen || h->conn[fd].gen != d >> 32)
				continue;	/* a closed connection's */
			http_serve(h, fd, ev[i].events);
		}
	}
	getrusage(RUSAGE_THREAD, &ru1);
	h->cpu_us = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
		     ru0.ru_stime.tv_sec) * 1e6 +
		    (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
		     ru0.ru_stime.tv_usec);
	return NULL;
}

struct http_client_conn {
	int fd;
	size_t len;
	char buf[512];
};

static void http_connect(struct http_client_conn *cc, const struct sockaddr_in *a, int cx,
			 int idx, int keepalive)
{
	const char *req = keepalive ? http_req_ka : http_req_close;
	size_t len = keepalive ? sizeof(http_req_ka) - 1 : sizeof(http_req_close) - 1;
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = idx };

	cc->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cc->fd < 0)
		die("ringhttp socket");
	/* on loopback, completes without the server thread */
	if (connect(cc->fd, (const struct sockaddr *)a, sizeof(*a)))
		die("ringhttp connect");
	if (fcntl(cc->fd, F_SETFL, O_NONBLOCK) || epoll_ctl(cx, EPOLL_CTL_ADD, cc->fd, &e))
		die("ringhttp client ADD");
	cc->len = 0;
	if (write(cc->fd, req, len) != (ssize_t)len)
		die("ringhttp request");
}

static void bench_http(const char *wl, int be, int impl, int rep, int conns, int keepalive,
		       int split)
{
	struct http h = { 0 };
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t alen = sizeof(a);
	const char *resp = keepalive ? http_resp_ka : http_resp_close;
	size_t rlen = keepalive ? sizeof(http_resp_ka) - 1 : sizeof(http_resp_close) - 1;
	struct http_client_conn *cc = calloc(conns, sizeof(*cc));
	struct epoll_event ev[64];
	struct rlimit rl;
	char p[64];
	long done = 0;
	double t0, t;
	cpu_set_t mask;
	pthread_t th;
	int cx, cpu, n;

	if (!http_case(conns, keepalive, split)) {
		free(cc);
		return;
	}
	if (!cc || getrlimit(RLIMIT_NOFILE, &rl))
		die("ringhttp setup");
	/* fds above the eventfd pool; RLIMIT_NOFILE has room for 1,024 more */
	h.nfd = rl.rlim_cur;
	h.conn = calloc(h.nfd, sizeof(*h.conn));
	if (!h.conn)
		die("calloc");
	cpu = last_cpu(&mask);
	h.cpu[0] = h.cpu[1] = cpu;
	if (split) {
		while (--cpu >= 0 && !CPU_ISSET(cpu, &mask))
			;
		h.cpu[1] = cpu;
	}
	if (strcmp(wl, "ringaa"))
		snprintf(p, sizeof(p), "%s c=%d CPUs=%s%s", keepalive ? "keepalive" : "close", conns,
			 split ? "split" : "same", xp_impl == IMPL_PLAIN ? " plain" : "");
	else
		snprintf(p, sizeof(p), "%s c=%d CPUs=%s %s|%s", keepalive ? "keepalive" : "close",
			 conns, split ? "split" : "same", impl_name[impl], impl_name[impl]);
	pin_to(h.cpu[1]);
	/* listener + C connections, and room for closed ones not yet reaped */
	rq_open(&h.q, impl, 4 * (conns + 1) < 1024 ? 1024 : 4 * (conns + 1));
	h.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h.lfd < 0 || bind(h.lfd, (struct sockaddr *)&a, sizeof(a)) || listen(h.lfd, 1024) ||
	    getsockname(h.lfd, (struct sockaddr *)&a, &alen))
		die("ringhttp listen");
	if (rq_add(&h.q, h.lfd, EPOLLIN | EPOLLET, HTTP_LISTENER))
		die("ringhttp ADD listener");
	cx = epoll_create1(EPOLL_CLOEXEC);
	if (cx < 0)
		die("epoll_create1");
	if (pthread_create(&th, NULL, http_server, &h))
		die("pthread_create");
	t0 = now();
	for (int i = 0; i < conns; i++)
		http_connect(&cc[i], &a, cx, i, keepalive);
	do {
		for (int b = 0; b < 16; b++) {
			n = epoll_wait(cx, ev, 64, 5000);
			if (n < 0 && errno != EINTR)
				die("ringhttp client wait");
			if (n == 0) {
				fprintf(stderr, "ringhttp %s %s: no answer for 5 s (%ld done)\n", p,
					impl_name[impl], done);
				exit(1);
			}
			for (int i = 0; i < n; i++) {
				struct http_client_conn *c = &cc[ev[i].data.u64];
				ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

				if (r < 0 && errno == EAGAIN)
					continue;
				if (r < 0)
					die("ringhttp client read");
				if (r == 0) {	/* EOF: only after a whole answer, close mode */
					if (keepalive || c->len != rlen || memcmp(c->buf, resp, rlen)) {
						fprintf(stderr, "ringhttp %s: EOF after %zu bytes\n", p, c->len);
						exit(1);
					}
					close(c->fd);
					done++;
					http_connect(c, &a, cx, (int)ev[i].data.u64, keepalive);
					continue;
				}
				c->len += r;
				if (c->len > rlen) {
					fprintf(stderr, "ringhttp %s: %zu bytes, an answer is %zu\n", p,
						c->len, rlen);
					exit(1);
				}
				if (keepalive && c->len == rlen) {
					if (memcmp(c->buf, resp, rlen))
						die("ringhttp: wrong answer");
					done++;
					c->len = 0;
					if (write(c->fd, http_req_ka, sizeof(http_req_ka) - 1) !=
					    (ssize_t)sizeof(http_req_ka) - 1)
						die("ringhttp request");
				}
			}
		}
		t = now() - t0;
	} while (t < 5 * budget || done < 3);
	atomic_store(&h.stop, 1);
	for (int i = 0; i < conns; i++)
		close(cc[i].fd);
	pthread_join(th, NULL);
	if (sched_setaffinity(0, sizeof(mask), &mask))
		die("sched_setaffinity");
	for (long fd = 0; fd < h.nfd; fd++)
		if (h.conn[fd].gen)
			close(fd);
	close(h.lfd);
	close(cx);
	printf("# %s %s %s: %ld requests in %.2f s (%ld served, %ld closed), server %.1f us CPU/request, "
	       "%ld calls for events, %.2f events/call, %ld slept\n",
	       wl, p, impl_name[impl], done, t, h.served, h.closed, h.cpu_us / h.served, h.q.gets,
	       (double)h.q.events / (h.q.gets ? h.q.gets : 1), h.q.sleeps);
	rq_close(&h.q);
	sample(wl, p, "req/s", be, rep, done / t);
	sample(wl, p, "cpu_us/req", be, rep, h.cpu_us / h.served);
	free(cc);
	free(h.conn);
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
		"          [--backend epoll|xpoll] [--pingpong-cpus same|split|free]\n"
		"          [--pingpong-calls 1|2] [--fixed-rate EV/S] [--fixed-producers P]\n"
		"          [--fixed-secs S] [--min-events M] [--min-wait-us U]\n"
		"          [--ring-n 1024|65536] [--ring-mode retrigger|drain]\n"
		"          [--http-conns C] [--http-mode keepalive|close] [--http-cpus same|split]\n"
		"          [--xpoll-column ring|plain]\n"
		"       %s --table FILE.csv [--columns A,B]\n"
		"  workloads: null ctl wait ctlwait latency pingpong fixedrate herd memory churn\n"
		"             ring1 ring64 ringhttp ringmem (default: all), ringaa (A/A of\n"
		"             the ring rows: one consumer in both columns; only if named)\n"
		"  --max-targets: largest N for ctl/wait/memory (default 100000;\n"
		"                 1000000 adds the 1M ctl row, needs ~1M fds and RAM)\n"
		"  pingpong: both threads on one CPU (same, default), one on each of two\n"
		"            (split) or free; only the xpoll row of 1 or 2 calls per turn\n"
		"  fixedrate: P producers (4, at most 64) write at EV/S in all (4000) for\n"
		"             S seconds (2); xpoll waits with min_events M (16) and\n"
		"             min_wait U microseconds (1000)\n"
		"  ring1, ring64, ringaa: --ring-n and --ring-mode run only those cases;\n"
		"  ringhttp, ringaa: --http-* only the cases of those connections, mode, CPUs\n"
		"  --xpoll-column plain: ring1, ring64, ringhttp's xpoll column on a plain\n"
		"                 instance (XPOLL_IOC_WAIT) instead of the ring (diagnosis)\n"
		"  --table: only print the table of a CSV written before, whose two\n"
		"           columns are the backends named by --columns (default epoll,xpoll)\n",
		a0, a0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = "null,ctl,wait,ctlwait,latency,pingpong,fixedrate,herd,memory,churn,"
			   "ring1,ring64,ringhttp,ringmem";
	const char *csvpath = NULL;
	const char *table = NULL;
	static char columns[64];
	static const long sizes[] = { 1000, 10000, 100000, 1000000 };
	struct xpoll_version ver = { 0 };
	struct utsname u;
	double t_start = now();
	int i, be, rep, have_ring, ring_rows;

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
		else if (!strcmp(argv[i], "--pingpong-cpus") && i + 1 < argc) {
			i++;
			for (pp_cpus = 0; pp_cpus < 3; pp_cpus++)
				if (!strcmp(argv[i], pp_cpus_name[pp_cpus]))
					break;
			if (pp_cpus == 3)
				usage(argv[0]);
		} else if (!strcmp(argv[i], "--pingpong-calls") && i + 1 < argc)
			pp_calls = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--fixed-rate") && i + 1 < argc)
			fr_rate = atol(argv[++i]);
		else if (!strcmp(argv[i], "--fixed-producers") && i + 1 < argc)
			fr_producers = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--fixed-secs") && i + 1 < argc)
			fr_secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--min-events") && i + 1 < argc)
			fr_min = atol(argv[++i]);
		else if (!strcmp(argv[i], "--min-wait-us") && i + 1 < argc)
			fr_min_wait_us = atol(argv[++i]);
		else if (!strcmp(argv[i], "--xpoll-column") && i + 1 < argc) {
			i++;
			xp_impl = !strcmp(argv[i], "plain") ? IMPL_PLAIN :
				  !strcmp(argv[i], "ring") ? IMPL_RING : (usage(argv[0]), 0);
		} else if (!strcmp(argv[i], "--ring-n") && i + 1 < argc)
			ring_only_n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--ring-mode") && i + 1 < argc) {
			i++;
			ring_only_mode = !strcmp(argv[i], "retrigger") ? 0 :
					 !strcmp(argv[i], "drain") ? 1 : (usage(argv[0]), 0);
		} else if (!strcmp(argv[i], "--http-conns") && i + 1 < argc)
			http_only_conns = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--http-mode") && i + 1 < argc) {
			i++;
			http_only_ka = !strcmp(argv[i], "keepalive") ? 1 :
				       !strcmp(argv[i], "close") ? 0 : (usage(argv[0]), 0);
		} else if (!strcmp(argv[i], "--http-cpus") && i + 1 < argc) {
			i++;
			http_only_split = !strcmp(argv[i], "split") ? 1 :
					  !strcmp(argv[i], "same") ? 0 : (usage(argv[0]), 0);
		} else if (!strcmp(argv[i], "--table") && i + 1 < argc)
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
	if (reps < 1 || reps > 64 || pp_calls < 0 || pp_calls > 2 || fr_rate < 1 || fr_producers < 1 ||
	    fr_producers > FR_MAXP || fr_secs <= 0 || fr_min < 1 || fr_min > 64 ||
	    fr_min_wait_us < 0 || fr_rate * fr_secs < fr_producers)
		usage(argv[0]);
	if (table)
		return print_csv_table(table);
	setvbuf(stdout, NULL, _IOLBF, 0);
	i = open(XPOLL_DEVICE, O_RDWR);
	if (i < 0)
		die("open " XPOLL_DEVICE " (is xpoll loaded?)");
	if (ioctl(i, XPOLL_IOC_VERSION, &ver))
		die("XPOLL_IOC_VERSION");
	close(i);
	uname(&u);
	printf("# xpoll-bench: kernel %s, %ld CPUs, %d repetitions, epoll and xpoll alternating\n",
	       u.release, sysconf(_SC_NPROCESSORS_ONLN), reps);
	if (want(only, "pingpong") && !(ver.features & XPOLL_FEAT_USER_EVENTS))
		printf("# pingpong: skipped, this module has no user events (XPOLL_FEAT_USER_EVENTS)\n");
	if (want(only, "fixedrate") && !(ver.features & XPOLL_FEAT_MIN_WAIT))
		printf("# fixedrate: skipped, this module has no minimum-wait batching (XPOLL_FEAT_MIN_WAIT)\n");
	have_ring = !!(ver.features & XPOLL_FEAT_RING);
	ring_rows = want(only, "ring1") || want(only, "ring64") || want(only, "ringhttp") ||
		    want(only, "ringmem") || want(only, "ringaa");
	if (ring_rows && !have_ring)
		printf("# ring1, ring64, ringhttp, ringmem, ringaa: skipped, this module has no ready ring (XPOLL_FEAT_RING)\n");
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
	else if (ring_rows && have_ring && (want(only, "ring1") || want(only, "ring64") ||
					    want(only, "ringmem") || want(only, "ringaa")))
		/* the ring rows' largest N; a smaller --max-targets drops that N */
		make_targets(max_n < ring_sizes[1] ? max_n : ring_sizes[1]);
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
		if (want(only, "pingpong") && (ver.features & XPOLL_FEAT_USER_EVENTS))
			for (int two = 0; two < 2; two++)
				if (!pp_calls || pp_calls == two + 1)
					BOTH(bench_pingpong(be, rep, two));
		if (want(only, "fixedrate") && (ver.features & XPOLL_FEAT_MIN_WAIT))
			for (int control = 0; control < 2; control++)
				BOTH(bench_fixedrate(be, rep, control));
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
		if (have_ring) {
			/* The column is the backend; epoll's runs epoll, xpoll's the ring. */
			/* Not k, nor i: BOTH() has a k of its own. */
			for (int kk = 1; kk <= 64; kk *= 64)
				if (want(only, kk == 1 ? "ring1" : "ring64"))
					for (int ni = 0; ni < 2; ni++)
						for (int drain = 0; drain < 2; drain++)
							BOTH(bench_ring(kk == 1 ? "ring1" : "ring64", be,
									be == EP ? IMPL_EPOLL : xp_impl,
									rep, ring_sizes[ni], kk, drain));
			if (want(only, "ringhttp")) {
				BOTH(bench_http("ringhttp", be, be == EP ? IMPL_EPOLL : xp_impl,
						rep, 32, 1, 0));
				BOTH(bench_http("ringhttp", be, be == EP ? IMPL_EPOLL : xp_impl,
						rep, 1, 1, 0));
				BOTH(bench_http("ringhttp", be, be == EP ? IMPL_EPOLL : xp_impl,
						rep, 32, 1, 1));
				BOTH(bench_http("ringhttp", be, be == EP ? IMPL_EPOLL : xp_impl,
						rep, 8, 0, 0));
			}
			if (want(only, "ringmem"))
				for (int ring = 0; ring < 2; ring++)
					BOTH(bench_ringmem(be, rep, ring_sizes[1], ring));
			/*
			 * A/A: the same consumer in both columns, in the same
			 * alternation: how far a ring row's ratio moves with
			 * nothing different (only when named: not in "all").
			 */
			if (want(only, "ringaa"))
				for (int impl = IMPL_EPOLL; impl <= IMPL_RING; impl++) {
					for (int kk = 1; kk <= 64; kk *= 64)
						for (int drain = 0; drain < 2; drain++)
							BOTH(bench_ring("ringaa", be, impl, rep,
									ring_sizes[0], kk, drain));
					BOTH(bench_http("ringaa", be, impl, rep, 32, 1, 0));
				}
		}
#undef BOTH
	}
	print_table();
	printf("# total %.0f s\n", now() - t_start);
	if (csv)
		fclose(csv);
	return 0;
}
