// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll-stat: the xpoll instances of some processes (-p PID) or of all,
 * one row each, with their counters: rates per second, refreshed like
 * top(1), or totals once (--once).  See man/xpoll-stat.8.
 *
 * Everything comes from /proc: an instance is a /proc/PID/fd/FD link to
 * /dev/xpoll whose /proc/PID/fdinfo/FD has an "id:" line (the module's
 * XPOLL_FEAT_STATS lines, module/stats.c), so it works on any process
 * ptrace access allows, with no ioctl.  A process it may not read is
 * counted and skipped; one that exits, or an fd closed, between the
 * steps of a scan is left out; fdinfo lines and counters it does not
 * know are ignored.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The counters, as fdinfo's "stats GROUP: NAME VALUE ..." lines name them. */
enum {
	C_ADD, C_DEL, C_MOD, C_TRIGGER, C_CLEAR, C_OTHER,
	E_ADD, E_DEL, E_MOD, E_TRIGGER, E_CLEAR, E_OTHER,
	C_WAITS, C_SLEPT, C_WAKEUPS, C_SPURIOUS,
	C_EVENTS, C_LT, C_ET, C_ONESHOT, C_REQUEUES,
	C_CALLBACKS, C_OVF, C_READY_MAX, NCOUNTERS
};

static const struct { const char *group, *name; } counter[NCOUNTERS] = {
	[C_ADD] = { "ctl", "add" },		[C_DEL] = { "ctl", "del" },
	[C_MOD] = { "ctl", "mod" },		[C_TRIGGER] = { "ctl", "trigger" },
	[C_CLEAR] = { "ctl", "clear" },		[C_OTHER] = { "ctl", "other" },
	[E_ADD] = { "ctl_errors", "add" },	[E_DEL] = { "ctl_errors", "del" },
	[E_MOD] = { "ctl_errors", "mod" },	[E_TRIGGER] = { "ctl_errors", "trigger" },
	[E_CLEAR] = { "ctl_errors", "clear" },	[E_OTHER] = { "ctl_errors", "other" },
	[C_WAITS] = { "wait", "waits" },	[C_SLEPT] = { "wait", "slept" },
	[C_WAKEUPS] = { "wait", "wakeups" },	[C_SPURIOUS] = { "wait", "spurious" },
	[C_EVENTS] = { "events", "events" },	[C_LT] = { "events", "lt" },
	[C_ET] = { "events", "et" },		[C_ONESHOT] = { "events", "oneshot" },
	[C_REQUEUES] = { "events", "requeues" },
	[C_CALLBACKS] = { "callbacks", "callbacks" },
	[C_OVF] = { "callbacks", "ovf" },	[C_READY_MAX] = { "callbacks", "ready_max" },
};

/* The row's counter columns: the sum of counters first..last. */
static const struct { const char *head; int first, last; } column[] = {
	{ "CTL", C_ADD, C_OTHER },	{ "CTLERR", E_ADD, E_OTHER },
	{ "WAITS", C_WAITS, C_WAITS },	{ "SLEPT", C_SLEPT, C_SLEPT },
	{ "WAKEUPS", C_WAKEUPS, C_WAKEUPS }, { "SPUR", C_SPURIOUS, C_SPURIOUS },
	{ "EVENTS", C_EVENTS, C_EVENTS }, { "REQUEUE", C_REQUEUES, C_REQUEUES },
	{ "CALLBACKS", C_CALLBACKS, C_CALLBACKS }, { "OVF", C_OVF, C_OVF },
	{ "READYMAX", C_READY_MAX, C_READY_MAX },
};
#define NCOLUMNS	(int)(sizeof(column) / sizeof(column[0]))
/* -v's lines: the counters the row sums, by op and by mode. */
static const int detail[][2] = { { C_ADD, C_OTHER }, { E_ADD, E_OTHER }, { C_LT, C_ONESHOT } };

#define TOP	10	/* items listed by -v */

struct item {
	bool uev;		/* a user event: key in fd_key */
	unsigned long long fd_key, data, reported;
	unsigned int events;
	long long last_ms;	/* -1: never */
};

struct inst {
	int pid, fd;
	char comm[17];
	unsigned long long id, c[NCOUNTERS];
	long nitems, nuev, ring;	/* ring: its entries, -1 if none */
	int ntop;
	struct item top[TOP];	/* -v: the most reported, most first */
	const struct inst *prev;	/* the same instance one scan before */
};

struct scan {
	struct inst *v;
	size_t n, cap;
	int procs, unreadable, missing;
	double t;		/* CLOCK_MONOTONIC, seconds */
};

static const char *proc = "/proc";
static bool opt_once, opt_verbose;
static double opt_delay = 1;
static long opt_count;		/* refresh mode: stop after that many screens (0: never) */
static int *opt_pids, opt_npids;
static struct stat xpoll_dev;	/* /dev/xpoll, for links under another name */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A number of any size: saturates at ULLONG_MAX rather than failing. */
static unsigned long long num(const char *s, int base)
{
	return strtoull(s, NULL, base);
}

static unsigned long long add_sat(unsigned long long a, unsigned long long b)
{
	return a + b < a ? ~0ULL : a + b;
}

/* Insert @it in the top list if it is among the TOP most reported. */
static void keep_top(struct inst *in, const struct item *it)
{
	int i = in->ntop;

	if (i < TOP) {
		in->ntop++;
	} else {
		if (it->reported <= in->top[TOP - 1].reported)
			return;
		i = TOP - 1;	/* the last one drops out */
	}
	for (; i > 0 && in->top[i - 1].reported < it->reported; i--)
		in->top[i] = in->top[i - 1];
	in->top[i] = *it;
}

/* "stats GROUP: NAME VALUE NAME VALUE ..." (@s after "stats "). */
static void parse_stats(struct inst *in, char *s)
{
	char *save, *group = strtok_r(s, ": \n", &save), *name, *val;

	while (group && (name = strtok_r(NULL, " \n", &save)) &&
	       (val = strtok_r(NULL, " \n", &save)))
		for (int i = 0; i < NCOUNTERS; i++)
			if (!strcmp(counter[i].group, group) && !strcmp(counter[i].name, name))
				in->c[i] = num(val, 10);
}

/* The " reported: N last_ms: M" end of an item's line. */
static void parse_reported(struct item *it, const char *line)
{
	const char *r = strstr(line, " reported: "), *l = strstr(line, " last_ms: ");

	it->reported = r ? num(r + 11, 10) : 0;
	it->last_ms = l ? strtoll(l + 10, NULL, 10) : -1;
}

/* Reads /proc/PID/fdinfo/FD; false if it is gone or not an instance. */
static bool read_fdinfo(struct inst *in)
{
	char path[PATH_MAX], *line = NULL;
	size_t len = 0;
	bool is_instance = false;
	struct item it;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/fdinfo/%d", proc, in->pid, in->fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &len, f) > 0) {
		memset(&it, 0, sizeof(it));
		if (!strncmp(line, "id:", 3)) {
			in->id = num(line + 3, 10);
			is_instance = true;
		} else if (!strncmp(line, "stats ", 6)) {
			parse_stats(in, line + 6);
		} else if (sscanf(line, "tfd: %llu events: %x data: %llx",
				  &it.fd_key, &it.events, &it.data) == 3) {
			in->nitems++;
			parse_reported(&it, line);
			if (opt_verbose)
				keep_top(in, &it);
		} else if (sscanf(line, "uev: %llx events: %x data: %llx",
				  &it.fd_key, &it.events, &it.data) == 3) {
			in->nuev++;
			it.uev = true;
			parse_reported(&it, line);
			if (opt_verbose)
				keep_top(in, &it);
		} else if (!strncmp(line, "ring: entries: ", 15)) {
			in->ring = num(line + 15, 10);
		}
	}
	/* A read error: the process exited while we read. */
	if (ferror(f))
		is_instance = false;
	free(line);
	fclose(f);
	return is_instance;
}

/* Whether /proc/PID/fd/@name (in @dir) is an xpoll instance's file. */
static bool is_xpoll_link(DIR *dir, const char *name)
{
	char target[256];
	const char *base;
	ssize_t n = readlinkat(dirfd(dir), name, target, sizeof(target) - 1);
	struct stat st;

	if (n <= 0)
		return false;
	target[n] = 0;
	if (!strcmp(target, "/dev/xpoll"))
		return true;
	/* The node under another path (a container's /dev): same device? */
	base = strrchr(target, '/');
	return base && !strcmp(base, "/xpoll") && xpoll_dev.st_rdev &&
	       !fstatat(dirfd(dir), name, &st, 0) && S_ISCHR(st.st_mode) &&
	       st.st_rdev == xpoll_dev.st_rdev;
}

static void add_inst(struct scan *s, const struct inst *in)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v) {
			perror("xpoll-stat");
			exit(1);
		}
	}
	s->v[s->n++] = *in;
}

static void scan_pid(struct scan *s, int pid, bool asked)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct inst in;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d/fd", proc, pid);
	dir = opendir(path);
	if (!dir) {
		if (errno == EACCES || errno == EPERM)
			s->unreadable++;
		else if (asked)
			s->missing++;
		return;
	}
	s->procs++;
	memset(&in, 0, sizeof(in));
	in.pid = pid;
	snprintf(path, sizeof(path), "%s/%d/comm", proc, pid);
	f = fopen(path, "re");
	if (!f || !fgets(in.comm, sizeof(in.comm), f))
		strcpy(in.comm, "?");
	if (f)
		fclose(f);
	in.comm[strcspn(in.comm, "\n")] = 0;
	/* One word, printable: the table's columns stay columns. */
	for (char *p = in.comm; *p; p++)
		if (!isgraph((unsigned char)*p))
			*p = '?';
	while ((de = readdir(dir))) {
		if (!isdigit((unsigned char)de->d_name[0]) || !is_xpoll_link(dir, de->d_name))
			continue;
		struct inst one = in;

		one.fd = atoi(de->d_name);
		one.ring = -1;
		if (read_fdinfo(&one))
			add_inst(s, &one);
	}
	closedir(dir);
}

static int by_pid_fd(const void *a, const void *b)
{
	const struct inst *x = a, *y = b;

	return x->pid != y->pid ? (x->pid > y->pid) - (x->pid < y->pid)
				: (x->fd > y->fd) - (x->fd < y->fd);
}

static struct scan scan_all(void)
{
	struct scan s = { .t = now() };
	struct dirent *de;
	DIR *dir;

	if (opt_npids) {
		for (int i = 0; i < opt_npids; i++)
			scan_pid(&s, opt_pids[i], true);
	} else {
		dir = opendir(proc);
		if (!dir) {
			fprintf(stderr, "xpoll-stat: %s: %s\n", proc, strerror(errno));
			exit(1);
		}
		while ((de = readdir(dir)))
			if (isdigit((unsigned char)de->d_name[0]))
				scan_pid(&s, atoi(de->d_name), false);
		closedir(dir);
	}
	if (s.n)
		qsort(s.v, s.n, sizeof(*s.v), by_pid_fd);
	return s;
}

/* Links each instance of @s to itself in @old (same pid, fd and id). */
static void match(struct scan *s, const struct scan *old)
{
	for (size_t i = 0; i < s->n; i++) {
		struct inst *p = old->n ? bsearch(&s->v[i], old->v, old->n, sizeof(*old->v),
						  by_pid_fd) : NULL;

		s->v[i].prev = p && p->id == s->v[i].id ? p : NULL;
	}
}

/*
 * Counters first..last summed, as text: the total (--once), else the rate
 * per second since the scan before (- for an instance new since then).
 * ready_max is a high mark, shown as it is.  The module's call counters
 * are longs: on a 32-bit kernel they wrap at 2^32, and past 2^31 fdinfo
 * shows them sign-extended (0xffffffff8...); both steps count mod 2^32.
 */
static void cell(char *buf, size_t size, const struct inst *in, int first, int last, double dt)
{
	unsigned long long sum = 0, d;

	if (opt_once || first == C_READY_MAX) {
		for (int i = first; i <= last; i++)
			sum = add_sat(sum, in->c[i]);
		snprintf(buf, size, "%llu", sum);
		return;
	}
	if (!in->prev) {
		snprintf(buf, size, "-");
		return;
	}
	for (int i = first; i <= last; i++) {
		unsigned long long cur = in->c[i], old = in->prev->c[i];

		d = cur - old;
		if ((cur < old && old >> 32 == 0) || (old >> 32 == 0 && cur >> 32 == 0xffffffff))
			d &= 0xffffffffULL;
		sum = add_sat(sum, d);
	}
	if (!sum)
		snprintf(buf, size, "0");
	else
		snprintf(buf, size, sum / dt >= 100 ? "%.0f" : "%.1f", sum / dt);
}

#define HEAD	7	/* PID COMM FD ID ITEMS UEV RING */
#define CELL	32	/* 2^64 / 0.01 s as %.0f is 22 characters */

static void print_detail(const struct inst *in, double dt)
{
	char buf[CELL];

	for (size_t d = 0; d < sizeof(detail) / sizeof(detail[0]); d++) {
		printf("    %s:", counter[detail[d][0]].group);
		for (int i = detail[d][0]; i <= detail[d][1]; i++) {
			cell(buf, sizeof(buf), in, i, i, dt);
			printf(" %s %s", counter[i].name, buf);
		}
		printf("\n");
	}
	if (!in->ntop)
		return;
	printf("    %-20s %8s %16s %10s %10s\n", "ITEM", "EVENTS", "DATA", "REPORTED", "LAST_MS");
	for (int i = 0; i < in->ntop; i++) {
		const struct item *it = &in->top[i];

		snprintf(buf, sizeof(buf), it->uev ? "uev %llx" : "fd %llu", it->fd_key);
		printf("    %-20s %8x %16llx %10llu ", buf, it->events, it->data, it->reported);
		if (it->last_ms < 0)
			printf("%10s\n", "-");
		else
			printf("%10lld\n", it->last_ms);
	}
	if (in->nitems + in->nuev > in->ntop)
		printf("    (%ld more)\n", in->nitems + in->nuev - in->ntop);
}

static void print_scan(const struct scan *s, double dt)
{
	static const char *const head[HEAD + NCOLUMNS] = {
		"PID", "COMM", "FD", "ID", "ITEMS", "UEV", "RING"
	};
	char (*cells)[HEAD + NCOLUMNS][CELL] = calloc(s->n + 1, sizeof(*cells));
	int width[HEAD + NCOLUMNS], procs = 0;

	if (!cells) {
		perror("xpoll-stat");
		exit(1);
	}
	for (int c = 0; c < HEAD + NCOLUMNS; c++)
		snprintf(cells[0][c], CELL, "%s", c < HEAD ? head[c] : column[c - HEAD].head);
	for (size_t r = 0; r < s->n; r++) {
		const struct inst *in = &s->v[r];
		char (*row)[CELL] = cells[r + 1];

		snprintf(row[0], CELL, "%d", in->pid);
		snprintf(row[1], CELL, "%s", in->comm);
		snprintf(row[2], CELL, "%d", in->fd);
		snprintf(row[3], CELL, "%llu", in->id);
		snprintf(row[4], CELL, "%ld", in->nitems);
		snprintf(row[5], CELL, "%ld", in->nuev);
		snprintf(row[6], CELL, in->ring < 0 ? "-" : "%ld", in->ring);
		for (int c = 0; c < NCOLUMNS; c++)
			cell(row[HEAD + c], CELL, in, column[c].first, column[c].last, dt);
	}
	for (int c = 0; c < HEAD + NCOLUMNS; c++) {
		width[c] = 0;
		for (size_t r = 0; r <= s->n; r++)
			if ((int)strlen(cells[r][c]) > width[c])
				width[c] = strlen(cells[r][c]);
	}
	for (size_t r = 0; r <= s->n; r++) {
		for (int c = 0; c < HEAD + NCOLUMNS; c++)
			printf(c == 1 ? "%s%-*s" : "%s%*s", c ? " " : "", width[c], cells[r][c]);
		printf("\n");
		if (r && opt_verbose)
			print_detail(&s->v[r - 1], dt);
	}
	for (size_t r = 0; r < s->n; r++)
		procs += !r || s->v[r].pid != s->v[r - 1].pid;
	printf("instances: %zu, in processes: %d, processes scanned: %d, not readable: %d",
	       s->n, procs, s->procs, s->unreadable);
	if (opt_npids)
		printf(", not found: %d", s->missing);
	printf("\n");
	free(cells);
}

static void usage(FILE *to, int status)
{
	fprintf(to,
		"usage: xpoll-stat [-v] [-p PID]... [-d SECONDS] [-n COUNT]   refresh, rates per second\n"
		"       xpoll-stat --once [-v] [-p PID]...                    totals, once\n"
		"  -p, --pid PID        only this process (repeatable); default: all\n"
		"  -d, --delay SECONDS  refresh interval (default 1)\n"
		"  -n, --count COUNT    stop after COUNT screens\n"
		"  -v, --verbose        per instance: counters by op and mode, the %d most reported items\n"
		"      --once           print the totals once, no screen control\n",
		TOP);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "delay", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct scan old = { 0 }, cur;
	struct timespec next;
	char *end;
	long v;
	int c, i;

	while ((c = getopt_long(argc, argv, "p:d:n:vh", longopts, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 'p':
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v <= 0 || v > 0x3fffffff)
				usage(stderr, 2);
			for (i = 0; i < opt_npids && opt_pids[i] != v; i++)
				;
			if (i < opt_npids)
				break;	/* given twice */
			opt_pids = realloc(opt_pids, (opt_npids + 1) * sizeof(*opt_pids));
			if (!opt_pids)
				return 1;
			opt_pids[opt_npids++] = v;
			break;
		case 'd':
			opt_delay = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt_delay >= 0.01 && opt_delay <= 86400))
				usage(stderr, 2);
			break;
		case 'n':
			opt_count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || opt_count <= 0)
				usage(stderr, 2);
			break;
		case 'v': opt_verbose = true; break;
		case 'o': opt_once = true; break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 2);
		}
	}
	if (optind < argc)
		usage(stderr, 2);
	/* A test's fake /proc (tools/stat/test.sh). */
	if (getenv("XPOLL_STAT_PROC"))
		proc = getenv("XPOLL_STAT_PROC");
	if (stat("/dev/xpoll", &xpoll_dev) || !S_ISCHR(xpoll_dev.st_mode))
		xpoll_dev.st_rdev = 0;

	if (opt_once) {
		cur = scan_all();
		print_scan(&cur, 0);
		free(cur.v);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long shown = 0;;) {
		cur = scan_all();
		if (old.t) {
			match(&cur, &old);
			printf("\033[H\033[2J");
			printf("xpoll-stat, every %g s; counters per second (READYMAX: the most ready at once)\n\n",
			       opt_delay);
			print_scan(&cur, cur.t - old.t);
			fflush(stdout);
			if (opt_count && ++shown >= opt_count)
				break;
		}
		free(old.v);
		old = cur;
		next.tv_sec += (time_t)opt_delay;
		next.tv_nsec += (long)((opt_delay - (time_t)opt_delay) * 1e9);
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		/* Behind (a slow scan): count the interval from now. */
		if (next.tv_sec + next.tv_nsec / 1e9 < now())
			clock_gettime(CLOCK_MONOTONIC, &next);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	free(cur.v);
	free(old.v);
	return 0;
}
