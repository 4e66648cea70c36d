// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll-faultinj: make each slab allocation on xpoll's ctl, wait and open
 * paths fail in turn, and check each failure is clean (issue 5, item 2).
 *
 * Mechanism: /proc/thread-self/fail-nth. Writing N makes the N-th fault
 * injection point this thread reaches fail (failslab is the only one the
 * debug kernel enables); reading it back gives 0 if that happened, or what
 * is left of N if the call made fewer than N allocations. So for each
 * operation, N = 1, 2, ... fails its first, second, ... allocation until
 * the operation completes without reaching the N-th: then every site on
 * that path has been failed once. failslab must not ignore GFP_KERNEL
 * (ignore-gfp-wait=N) and must not print (verbose=0: a stack dump in the
 * console would read as a splat); both are restored at exit.
 *
 * For each injected failure the operation must either fail with ENOMEM and
 * leave the instance exactly as it was (fdinfo text identical, the same
 * events delivered, the operation then succeeds without injection), or
 * succeed anyway (the allocation had a fallback, e.g. kmemleak's own
 * metadata pool): "absorbed". Any other errno fails the test.
 *
 * The ready ring (XPOLL_FEAT_RING) is swept in a child process that runs
 * as uid 65532 with RLIMIT_MEMLOCK at RING_LOCK_PAGES pages, so that a
 * failure that kept its charge makes the retry fail: RING_SETUP (the
 * ring, its mapping's memory, the charge), mmap of a ring instance, the
 * first ADD of a ring instance (its slot numbers' first allocation), ADD
 * of a file, of a ready file (appended at once: on ENOMEM the ring's
 * tail, overflow and ready bits are unchanged), of a user event, ADD
 * through CTL_WAIT, a trigger, a wait.  At its end every ring is released
 * and the whole limit must be charged again at once.
 *
 * At the end a kmemleak scan must not name xpoll.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/xpoll.h>

#define FAILSLAB "/sys/kernel/debug/failslab/"
#define MAX_NTH 400

static int nth_fd = -1, inst = -1, have_ring;
static int tests, failed;
static long total_enomem, total_absorbed;
static char saved_ign[16], saved_verbose[16];

/* baseline targets of inst */
static int e_ready, e_idle, p_rd, p_wr;

static int xp_ctl(int xfd, int op, int fd, uint32_t ev, uint64_t data)
{
	struct xpoll_ctl c = { .op = op, .fd = fd, .events = ev, .data = data };

	return ioctl(xfd, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

static int xp_wait(int xfd, struct epoll_event *ev, int max, uint64_t sigmask)
{
	sigset_t *ss = (sigset_t *)(uintptr_t)sigmask;
	struct xpoll_wait w = {
		.events = (uintptr_t)ev, .maxevents = max, .timeout_ns = 0,
		.sigmask = sigmask, .sigsetsize = ss ? 8 : 0,
	};
	int r = ioctl(xfd, XPOLL_IOC_WAIT, &w);

	return r < 0 ? -errno : r;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/*
 * The instance's fdinfo without its statistics ("stats" lines and each
 * item's " reported: ..." end): they count the calls made, also those an
 * ENOMEM failed, and are not the state a failure must leave alone.
 */
static void fdinfo(int fd, char *buf, size_t len)
{
	char path[64], *in, *out, *nl, *cut;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (read_file(path, buf, len)) {
		snprintf(buf, len, "<fdinfo unreadable: %s>", strerror(errno));
		return;
	}
	for (in = out = buf; *in; in = nl) {
		nl = strchr(in, '\n');
		nl = nl ? nl + 1 : in + strlen(in);
		if (!strncmp(in, "stats ", 6))
			continue;
		cut = strstr(in, " reported: ");
		if (cut && cut < nl) {
			memmove(out, in, cut - in);
			out += cut - in;
			*out++ = '\n';
			continue;
		}
		memmove(out, in, nl - in);
		out += nl - in;
	}
	*out = 0;
}

/* Arm: the n-th injection point from now fails. Nothing may allocate between. */
static void arm(unsigned int n)
{
	char b[16];
	int len = snprintf(b, sizeof(b), "%u", n);

	if (pwrite(nth_fd, b, len, 0) != len) {
		perror("fail-nth write");
		exit(1);
	}
}

/* Disarm; returns what was left (0: the n-th point was reached and failed). */
static unsigned int disarm(void)
{
	char b[16] = "";
	unsigned int left;

	if (pread(nth_fd, b, sizeof(b) - 1, 0) < 0) {
		perror("fail-nth read");
		exit(1);
	}
	left = strtoul(b, NULL, 10);
	if (pwrite(nth_fd, "0", 1, 0) != 1) {
		perror("fail-nth reset");
		exit(1);
	}
	return left;
}

/* The instance's events right now, as a sorted string of tags. */
static void events_now(char *out, size_t len)
{
	struct epoll_event ev[16];
	int n = xp_wait(inst, ev, 16, 0), i, j;
	uint64_t t[16], x;
	size_t o = 0;

	if (n < 0) {
		snprintf(out, len, "<wait: %s>", strerror(-n));
		return;
	}
	for (i = 0; i < n; i++)
		t[i] = ev[i].data.u64;
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (t[j] < t[i]) {
				x = t[i];
				t[i] = t[j];
				t[j] = x;
			}
	out[0] = 0;
	for (i = 0; i < n; i++)
		o += snprintf(out + o, len - o, "%llx ", (unsigned long long)t[i]);
}

/*
 * One operation under test. do_op returns 0 or -errno (with -errno the op
 * must have had no effect); undo puts back the state after a success.
 */
struct op {
	const char *name;
	int (*do_op)(void);
	void (*undo)(void);
	int is_open;	/* open(): the instance is not involved */
	/*
	 * The state an ENOMEM must leave as it was (default: inst's fdinfo
	 * and events); with refresh it is taken again after each undo (an
	 * undo that cannot put back a ring's tail).
	 */
	void (*state)(char *info, size_t ilen, char *ev, size_t elen);
	int refresh;
};

static void op_state(const struct op *o, char *info, size_t ilen, char *ev,
		     size_t elen)
{
	if (o->state) {
		o->state(info, ilen, ev, elen);
		return;
	}
	fdinfo(inst, info, ilen);
	events_now(ev, elen);
}

static int extra_e, extra_dup, extra_inst, extra_ep, extra_sock[2], opened = -1;
static int extra_proc, extra_pty;

static int op_add_new(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_e, EPOLLIN, 0x10);
}

static void undo_add_new(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_e, 0, 0);
}

static int op_add_dup(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_dup, EPOLLIN | EPOLLET, 0x11);
}

static void undo_add_dup(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_dup, 0, 0);
}

static int op_add_pipe(void)	/* pipes register on two wait queues */
{
	return xp_ctl(inst, XPOLL_CTL_ADD, p_wr, EPOLLOUT, 0x12);
}

static void undo_add_pipe(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, p_wr, 0, 0);
}

static int op_add_nested(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_inst, EPOLLIN, 0x13);
}

static void undo_add_nested(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_inst, 0, 0);
}

static int op_add_epoll(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_ep, EPOLLIN, 0x14);
}

static void undo_add_epoll(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_ep, 0, 0);
}

static int op_add_sock(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_sock[0], EPOLLIN | EPOLLEXCLUSIVE, 0x15);
}

static void undo_add_sock(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_sock[0], 0, 0);
}

/*
 * The first watched file of a filesystem (nothing else watches procfs
 * here): xpoll adds its fsnotify mark there, and the DEL of the undo takes
 * it away again, so every try allocates the mark and fsnotify's connector.
 */
static int op_add_first_on_fs(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_proc, EPOLLIN, 0x16);
}

static void undo_add_first_on_fs(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_proc, 0, 0);
}

/* A pty master: fsnotify does not report its close, xpoll pins it. */
static int op_add_pinned(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_pty, EPOLLIN, 0x17);
}

static void undo_add_pinned(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_pty, 0, 0);
}

/*
 * EPOLLWAKEUP (root, a PM_SLEEP kernel): the item's wakeup source and its
 * instance's, both registered in sysfs.  Without PM_SLEEP the bit is
 * dropped and nothing is allocated: the sweep then covers plain ADD.
 */
static int op_add_wakeup(void)
{
	return xp_ctl(inst, XPOLL_CTL_ADD, extra_e, EPOLLIN | EPOLLWAKEUP,
		      0x18);
}

static void undo_add_wakeup(void)
{
	xp_ctl(inst, XPOLL_CTL_DEL, extra_e, 0, 0);
}

/* A MOD that adds EPOLLWAKEUP: as epoll, a source it cannot have is
 * done without, so it succeeds ("absorbed") or leaves all as it was. */
static int op_mod_wakeup(void)
{
	return xp_ctl(inst, XPOLL_CTL_MOD, e_ready, EPOLLIN | EPOLLWAKEUP, 0x1);
}

/* The same ADD through XPOLL_IOC_CTL_WAIT: its result, then a wait. */
static int op_ctl_wait_add(void)
{
	struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .fd = extra_e,
			       .events = EPOLLIN, .data = 0x19 };
	struct epoll_event ev[16];
	int32_t res = 1;
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)&c, .results = (uintptr_t)&res, .nr = 1,
		.wait = { .events = (uintptr_t)ev, .maxevents = 16 },
	};

	if (ioctl(inst, XPOLL_IOC_CTL_WAIT, &cw) < 0)
		return -errno;
	return res;
}

/*
 * User events (XPOLL_CTL_USER): no file, so no wait queue entry and no
 * fsnotify mark, but the item itself, its key's place and, with
 * EPOLLWAKEUP (the sweep runs as root, so the bit is kept), a wakeup
 * source.
 */
static int xp_uev(int xfd, uint32_t op, uint64_t key, uint32_t ev,
		  uint64_t data)
{
	struct xpoll_ctl c = { .op = op, .fd = -1, .events = ev,
			       .flags = XPOLL_CTL_USER, .data = data,
			       .key = key };

	return ioctl(xfd, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

#define UEV_BASE	0x55	/* the baseline's user event */
#define UEV_NEW		0x77

static int op_uev_add(void)
{
	return xp_uev(inst, XPOLL_CTL_ADD, UEV_NEW, EPOLLIN | EPOLLWAKEUP, 0x1a);
}

static void undo_uev_add(void)
{
	xp_uev(inst, XPOLL_CTL_DEL, UEV_NEW, 0, 0);
}

static int op_uev_add_plain(void)
{
	return xp_uev(inst, XPOLL_CTL_ADD, UEV_NEW, EPOLLIN | EPOLLET, 0x1b);
}

/* TRIGGER of the baseline's idle level-triggered event; CLEAR undoes it */
static int op_uev_trigger(void)
{
	return xp_uev(inst, XPOLL_CTL_TRIGGER, UEV_BASE, EPOLLIN, 0);
}

static void undo_uev_trigger(void)
{
	xp_uev(inst, XPOLL_CTL_CLEAR, UEV_BASE, EPOLLIN, 0);
}

/* ADD and TRIGGER of a user event in one XPOLL_IOC_CTL_WAIT, then a wait */
static int op_uev_ctl_wait(void)
{
	struct xpoll_ctl c[2] = {
		{ .op = XPOLL_CTL_ADD, .fd = -1, .events = EPOLLIN,
		  .flags = XPOLL_CTL_USER, .data = 0x1c, .key = UEV_NEW },
		{ .op = XPOLL_CTL_TRIGGER, .fd = -1, .events = EPOLLIN,
		  .flags = XPOLL_CTL_USER, .key = UEV_NEW },
	};
	struct epoll_event ev[16];
	int32_t res[2] = { 1, 1 };
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = 2,
		.wait = { .events = (uintptr_t)ev, .maxevents = 16 },
	};

	if (ioctl(inst, XPOLL_IOC_CTL_WAIT, &cw) < 0)
		return -errno;
	if (res[0])	/* nothing added: the TRIGGER found nothing */
		return res[0];
	return res[1];
}

/*
 * A min-wait (XPOLL_FEAT_MIN_WAIT): the baseline's two ready items of the
 * three min_events asks for, so it stores them, arms its min_wait_ns
 * timer (1 ms) and returns them when it fires.
 */
static int op_min_wait(void)
{
	struct epoll_event ev[16];
	struct xpoll_wait w = {
		.events = (uintptr_t)ev, .maxevents = 16,
		.timeout_ns = 200000000, .min_events = 3,
		.min_wait_ns = 1000000,
	};
	int n = ioctl(inst, XPOLL_IOC_WAIT, &w);

	return n < 0 ? -errno : 0;
}

static int op_mod(void)
{
	return xp_ctl(inst, XPOLL_CTL_MOD, e_ready, EPOLLIN | EPOLLOUT, 0x1);
}

static void undo_mod(void)
{
	xp_ctl(inst, XPOLL_CTL_MOD, e_ready, EPOLLIN, 0x1);
}

static int op_del(void)
{
	return xp_ctl(inst, XPOLL_CTL_DEL, e_idle, 0, 0);
}

static void undo_del(void)
{
	xp_ctl(inst, XPOLL_CTL_ADD, e_idle, EPOLLIN | EPOLLET, 0x3);
}

static int op_wait(void)
{
	struct epoll_event ev[16];
	int n = xp_wait(inst, ev, 16, 0);

	return n < 0 ? n : 0;
}

static int op_wait_sigmask(void)
{
	struct epoll_event ev[16];
	sigset_t ss;
	int n;

	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR2);
	n = xp_wait(inst, ev, 16, (uintptr_t)&ss);
	return n < 0 ? n : 0;
}

static int op_wait_nested(void)	/* wait on an instance that holds an instance */
{
	struct epoll_event ev[4];
	int n = xp_wait(extra_inst, ev, 4, 0);

	return n < 0 ? n : 0;
}

static int op_open(void)
{
	opened = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	return opened < 0 ? -errno : 0;
}

static void undo_open(void)
{
	close(opened);
	opened = -1;
}

static void nothing(void)
{
}

static const struct op ops[] = {
	{ "open", op_open, undo_open, 1, NULL, 0 },
	{ "ctl_add_eventfd", op_add_new, undo_add_new, 0, NULL, 0 },
	{ "ctl_add_dup_of_watched_file", op_add_dup, undo_add_dup, 0, NULL, 0 },
	{ "ctl_add_pipe_two_queues", op_add_pipe, undo_add_pipe, 0, NULL, 0 },
	{ "ctl_add_xpoll_instance", op_add_nested, undo_add_nested, 0, NULL, 0 },
	{ "ctl_add_epoll_instance", op_add_epoll, undo_add_epoll, 0, NULL, 0 },
	{ "ctl_add_socket_exclusive", op_add_sock, undo_add_sock, 0, NULL, 0 },
	{ "ctl_add_first_file_of_a_filesystem", op_add_first_on_fs, undo_add_first_on_fs, 0, NULL, 0 },
	{ "ctl_add_pty_master_pinned", op_add_pinned, undo_add_pinned, 0, NULL, 0 },
	{ "ctl_add_wakeup_source", op_add_wakeup, undo_add_wakeup, 0, NULL, 0 },
	{ "ctl_wait_add_eventfd", op_ctl_wait_add, undo_add_wakeup, 0, NULL, 0 },
	{ "ctl_mod_adds_wakeup_source", op_mod_wakeup, undo_mod, 0, NULL, 0 },
	{ "ctl_mod", op_mod, undo_mod, 0, NULL, 0 },
	{ "ctl_del", op_del, undo_del, 0, NULL, 0 },
	{ "user_event_add", op_uev_add, undo_uev_add, 0, NULL, 0 },
	{ "user_event_add_et", op_uev_add_plain, undo_uev_add, 0, NULL, 0 },
	{ "user_event_trigger", op_uev_trigger, undo_uev_trigger, 0, NULL, 0 },
	{ "ctl_wait_user_event_add_trigger", op_uev_ctl_wait, undo_uev_add, 0, NULL, 0 },
	{ "min_wait", op_min_wait, nothing, 0, NULL, 0 },
	{ "wait", op_wait, nothing, 0, NULL, 0 },
	{ "wait_sigmask", op_wait_sigmask, nothing, 0, NULL, 0 },
	{ "wait_nested", op_wait_nested, nothing, 0, NULL, 0 },
};

static void run_op(int idx, const struct op *o)
{
	static char base_info[8192], info[8192], base_ev[2048], ev[2048];
	unsigned int n, left = 0;
	int r, bad = 0, enomem = 0, absorbed = 0, allocs = -1;
	char why[5000] = "";

	op_state(o, base_info, sizeof(base_info), base_ev, sizeof(base_ev));
	for (n = 1; n <= MAX_NTH && !bad; n++) {
		arm(n);
		r = o->do_op();
		left = disarm();
		if (left) {
			/* completed with fewer than n allocations: path covered */
			allocs = n - 1;
			if (r)
				snprintf(why, sizeof(why), "failed with %s without any injected fault",
					 strerrorname_np(-r)), bad = 1;
			else
				o->undo();
			if (o->refresh)
				op_state(o, base_info, sizeof(base_info), base_ev,
					 sizeof(base_ev));
			break;
		}
		if (r == 0) {
			absorbed++;
			o->undo();
			if (o->refresh)
				op_state(o, base_info, sizeof(base_info), base_ev,
					 sizeof(base_ev));
		} else if (r == -ENOMEM) {
			enomem++;
			op_state(o, info, sizeof(info), ev, sizeof(ev));
			if (!o->is_open) {
				if (strcmp(info, base_info)) {
					snprintf(why, sizeof(why),
						 "allocation %u failed: ENOMEM but fdinfo changed", n);
					bad = 1;
					printf("# before:\n# %s\n# after:\n# %s\n", base_info, info);
				}
			}
			/* the instance still delivers exactly what it did */
			if (!bad && strcmp(ev, base_ev)) {
				snprintf(why, sizeof(why),
					 "allocation %u failed: events now [%s], before [%s]",
					 n, ev, base_ev);
				bad = 1;
			}
			/* and the operation works once memory is back */
			r = o->do_op();
			if (!bad && r) {
				snprintf(why, sizeof(why),
					 "allocation %u failed: the retry without fault gave %s",
					 n, strerrorname_np(-r));
				bad = 1;
			}
			if (!r)
				o->undo();
			if (o->refresh)
				op_state(o, base_info, sizeof(base_info), base_ev,
					 sizeof(base_ev));
		} else {
			snprintf(why, sizeof(why), "allocation %u failed: returned %s, not ENOMEM",
				 n, strerrorname_np(-r));
			bad = 1;
		}
	}
	if (!bad && allocs < 0) {
		snprintf(why, sizeof(why), "still allocating after %d injections", MAX_NTH);
		bad = 1;
	}
	if (!bad) {
		/* state after all the undos is the state before */
		op_state(o, info, sizeof(info), ev, sizeof(ev));
		if (strcmp(info, base_info)) {
			snprintf(why, sizeof(why), "fdinfo differs after the run");
			bad = 1;
		}
	}
	total_enomem += enomem;
	total_absorbed += absorbed;
	tests++;
	if (bad) {
		failed++;
		printf("# %s: %s\n", o->name, why);
	}
	printf("%sok %d %s # %d allocation points, %d failed with ENOMEM, %d absorbed\n",
	       bad ? "not " : "", idx, o->name, allocs < 0 ? 0 : allocs, enomem, absorbed);
}

/* ---- the ready ring, swept as uid 65532 (see the top) --------------------- */

#define RING_LOCK_PAGES	64
#define RING_BIG	8192	/* entries: 41 pages, more than half the limit */
#define RING_ENTRIES	64

static int r_plain = -1, r_inst = -1, r_empty = -1, r_e_idle, r_e_ready, r_e_first;
static struct xpoll_ring_setup r_lay;
static void *r_map, *r_map2;

static int ring_setup(int x, unsigned int entries, struct xpoll_ring_setup *out)
{
	struct xpoll_ring_setup r = { .entries = entries };

	if (ioctl(x, XPOLL_IOC_RING_SETUP, &r))
		return -errno;
	if (out)
		*out = r;
	return 0;
}

/* r_inst's fdinfo, and its ring as the mapping shows it */
static void st_ring(char *info, size_t ilen, char *ev, size_t elen)
{
	struct xpoll_ring_hdr *h = r_map;
	struct xpoll_ring_slot *sl = (void *)((char *)r_map + r_lay.slots_off);
	size_t o;

	fdinfo(r_inst, info, ilen);
	o = snprintf(ev, elen, "tail %u overflow %u ready", h->tail, h->overflow);
	for (unsigned int i = 0; i < RING_ENTRIES && o < elen; i++)
		if (sl[i].ready)
			o += snprintf(ev + o, elen - o, " %u:%x", i, sl[i].ready);
}

/* the instance a setup turns into a ring: plain until it succeeds */
static void st_plain(char *info, size_t ilen, char *ev, size_t elen)
{
	fdinfo(r_plain, info, ilen);
	snprintf(ev, elen, "-");
}

static void st_empty(char *info, size_t ilen, char *ev, size_t elen)
{
	fdinfo(r_empty, info, ilen);
	snprintf(ev, elen, "-");
}

/* Takes everything in r_inst's ring: head to tail, ready bits to 0. */
static void ring_drain(void)
{
	struct xpoll_ring_hdr *h = r_map;
	struct xpoll_ring_slot *sl = (void *)((char *)r_map + r_lay.slots_off);

	h->overflow = 0;
	__atomic_store_n(&h->head, __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < RING_ENTRIES; i++)
		__atomic_exchange_n(&sl[i].ready, 0, __ATOMIC_ACQ_REL);
}

static int op_ring_setup(void)
{
	return ring_setup(r_plain, RING_BIG, NULL);
}

static void undo_ring_setup(void)
{
	/* a ring is for good: a new plain instance in its place */
	close(r_plain);
	r_plain = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
}

static int op_ring_mmap(void)
{
	r_map2 = mmap(NULL, r_lay.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      r_inst, 0);
	return r_map2 == MAP_FAILED ? -errno : 0;
}

static void undo_ring_mmap(void)
{
	munmap(r_map2, r_lay.mmap_size);
}

static int op_ring_first_add(void)
{
	return xp_ctl(r_empty, XPOLL_CTL_ADD, r_e_first, EPOLLIN | EPOLLET, 0x30);
}

static void undo_ring_first_add(void)
{
	xp_ctl(r_empty, XPOLL_CTL_DEL, r_e_first, 0, 0);
}

static int op_ring_add(void)
{
	return xp_ctl(r_inst, XPOLL_CTL_ADD, r_e_idle, EPOLLIN | EPOLLET, 0x31);
}

static void undo_ring_add(void)
{
	xp_ctl(r_inst, XPOLL_CTL_DEL, r_e_idle, 0, 0);
}

static int op_ring_add_ready(void)
{
	return xp_ctl(r_inst, XPOLL_CTL_ADD, r_e_ready,
		      EPOLLIN | EPOLLET | EPOLLONESHOT, 0x32);
}

static void undo_ring_add_ready(void)
{
	xp_ctl(r_inst, XPOLL_CTL_DEL, r_e_ready, 0, 0);
	ring_drain();
}

static int op_ring_uev_add(void)
{
	return xp_uev(r_inst, XPOLL_CTL_ADD, UEV_NEW, EPOLLIN | EPOLLET, 0x33);
}

static void undo_ring_uev_add(void)
{
	xp_uev(r_inst, XPOLL_CTL_DEL, UEV_NEW, 0, 0);
}

static int op_ring_uev_trigger(void)
{
	return xp_uev(r_inst, XPOLL_CTL_TRIGGER, UEV_BASE, EPOLLIN, 0);
}

static void undo_ring_drain(void)
{
	ring_drain();
}

/* ADD through CTL_WAIT, whose wait (events 0) counts the ring */
static int op_ring_ctl_wait_add(void)
{
	struct xpoll_ctl c = { .op = XPOLL_CTL_ADD, .fd = r_e_idle,
			       .events = EPOLLIN | EPOLLET, .data = 0x34 };
	int32_t res = 1;
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)&c, .results = (uintptr_t)&res, .nr = 1,
		.wait = { .maxevents = 16 },
	};

	if (ioctl(r_inst, XPOLL_IOC_CTL_WAIT, &cw) < 0)
		return -errno;
	return res;
}

static int op_ring_wait(void)
{
	struct xpoll_wait w = { .maxevents = 16 };

	return ioctl(r_inst, XPOLL_IOC_WAIT, &w) < 0 ? -errno : 0;
}

static const struct op ring_ops[] = {
	{ "ring_setup", op_ring_setup, undo_ring_setup, 0, st_plain, 1 },
	{ "ring_mmap", op_ring_mmap, undo_ring_mmap, 0, st_ring, 0 },
	{ "ring_first_add", op_ring_first_add, undo_ring_first_add, 0, st_empty, 0 },
	{ "ring_add_eventfd", op_ring_add, undo_ring_add, 0, st_ring, 0 },
	{ "ring_add_ready_eventfd", op_ring_add_ready, undo_ring_add_ready, 0, st_ring, 1 },
	{ "ring_user_event_add", op_ring_uev_add, undo_ring_uev_add, 0, st_ring, 0 },
	{ "ring_user_event_trigger", op_ring_uev_trigger, undo_ring_drain, 0, st_ring, 1 },
	{ "ring_ctl_wait_add", op_ring_ctl_wait_add, undo_ring_add, 0, st_ring, 1 },
	{ "ring_wait", op_ring_wait, nothing, 0, st_ring, 0 },
};
#define NRING_OPS ((int)(sizeof(ring_ops) / sizeof(ring_ops[0])))

/*
 * The child: uid 65532, RLIMIT_MEMLOCK RING_LOCK_PAGES pages, its own
 * fail-nth.  Writes "tests failed enomem absorbed" to @out.
 */
static void ring_child(int first, int out)
{
	struct rlimit rl = { RING_LOCK_PAGES * 4096UL, RING_LOCK_PAGES * 4096UL };
	char res[64];
	int a, b, r, len;

	tests = failed = 0;
	total_enomem = total_absorbed = 0;
	/* first, while root may raise it too */
	if (setrlimit(RLIMIT_MEMLOCK, &rl)) {
		printf("Bail out! RLIMIT_MEMLOCK: %s\n", strerror(errno));
		_exit(1);
	}
	if (geteuid() == 0 &&
	    (setgroups(0, NULL) || setresgid(65532, 65532, 65532) ||
	     setresuid(65532, 65532, 65532))) {
		printf("Bail out! cannot become uid 65532: %s\n", strerror(errno));
		_exit(1);
	}
	prctl(PR_SET_DUMPABLE, 1);
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	r_plain = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	r_inst = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	r_empty = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	r_e_idle = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r_e_ready = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	r_e_first = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	r = nth_fd < 0 || r_plain < 0 || r_inst < 0 || r_empty < 0 || a < 0;
	/* the baseline: a ring with a ready item, an idle one, a user event */
	r = r || ring_setup(r_inst, RING_ENTRIES, &r_lay) ||
	    ring_setup(r_empty, RING_ENTRIES, NULL);
	if (!r) {
		r_map = mmap(NULL, r_lay.mmap_size, PROT_READ | PROT_WRITE,
			     MAP_SHARED, r_inst, 0);
		r = r_map == MAP_FAILED;
	}
	r = r || xp_ctl(r_inst, XPOLL_CTL_ADD, a, EPOLLIN | EPOLLET, 0x35) ||
	    xp_uev(r_inst, XPOLL_CTL_ADD, UEV_BASE, EPOLLIN | EPOLLET, 0x36);
	if (r) {
		printf("Bail out! ring setup as uid 65532 failed: %s\n", strerror(errno));
		_exit(1);
	}
	/* the ready item's event stays in the ring, as part of the state */
	for (int i = 0; i < NRING_OPS; i++)
		run_op(first + i, &ring_ops[i]);

	/*
	 * Everything released: the whole limit again, and not more, one
	 * page (a ring of RING_ENTRIES) at a time.
	 */
	munmap(r_map, r_lay.mmap_size);
	close(r_inst);
	close(r_empty);
	close(r_plain);
	{
		int fds[RING_LOCK_PAGES + 1], got = 0;

		r = 0;
		for (a = 0; a <= RING_LOCK_PAGES; a++) {
			fds[a] = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
			b = ring_setup(fds[a], RING_ENTRIES, NULL);
			got += !b;
			if (b && (b != -ENOMEM || a < RING_LOCK_PAGES))
				r = b;
		}
		for (a = 0; a <= RING_LOCK_PAGES; a++)
			close(fds[a]);
		tests++;
		len = got != RING_LOCK_PAGES;
		if (len) {
			failed++;
			printf("# ring charges: after every ring was released, %d rings of one page were set up under a limit of %d pages (first error %s)\n",
			       got, RING_LOCK_PAGES, r ? strerrorname_np(-r) : "none");
		}
		printf("%sok %d ring_charges_given_back # RLIMIT_MEMLOCK %d pages, uid %d\n",
		       len ? "not " : "", first + NRING_OPS, RING_LOCK_PAGES, (int)getuid());
	}
	len = snprintf(res, sizeof(res), "%d %d %ld %ld\n", tests, failed,
		       total_enomem, total_absorbed);
	if (write(out, res, len) != len)
		_exit(1);
	_exit(0);
}

/* Runs the ring sweep in its child; its tests are numbered from @first. */
static void ring_sweep(int first)
{
	int p[2], t = 0, f = 0, st;
	long en = 0, ab = 0;
	char res[64] = "";
	time_t t0 = time(NULL);
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC)) {
		perror("pipe");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		ring_child(first, p[1]);
	}
	close(p[1]);
	n = read(p[0], res, sizeof(res) - 1);
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) || n <= 0 ||
	    sscanf(res, "%d %d %ld %ld", &t, &f, &en, &ab) != 4) {
		printf("# the ring sweep's process failed (status %#x)\n", pid < 0 ? -1 : st);
		for (int i = t; i <= NRING_OPS; i++)
			printf("not ok %d ring sweep # did not run\n", first + i);
		tests += NRING_OPS + 1;
		failed += NRING_OPS + 1;
		return;
	}
	tests += t;
	failed += f;
	total_enomem += en;
	total_absorbed += ab;
	printf("# ring sweep (uid 65532): %ld s, %ld failed with ENOMEM, %ld absorbed\n",
	       (long)(time(NULL) - t0), en, ab);
}

static void restore_failslab(void)
{
	if (saved_ign[0])
		write_file(FAILSLAB "ignore-gfp-wait", saved_ign);
	if (saved_verbose[0])
		write_file(FAILSLAB "verbose", saved_verbose);
}

static int kmemleak_check(void)
{
	static char buf[1 << 20];
	int fd, found = 0, reports = 0;
	ssize_t n, o = 0;
	char *l;

	if (write_file("/sys/kernel/debug/kmemleak", "scan"))
		return -1;
	/* objects younger than 5 s are never reported: age them, scan again */
	sleep(6);
	if (write_file("/sys/kernel/debug/kmemleak", "scan"))
		return -1;
	fd = open("/sys/kernel/debug/kmemleak", O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + o, sizeof(buf) - 1 - o)) > 0)
		o += n;
	close(fd);
	buf[o] = 0;
	for (l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (strstr(l, "unreferenced object"))
			reports++;
		if (strstr(l, "xpoll")) {
			if (found++ < 10)
				printf("# kmemleak: %s\n", l);
		}
	}
	printf("# kmemleak: %d reports in all, %d lines naming xpoll\n", reports, found);
	return found;
}

int main(void)
{
	unsigned int i;
	int sv[2], p[2], inner_e, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	if (access(XPOLL_DEVICE, R_OK)) {
		printf("1..0 # SKIP no %s\n", XPOLL_DEVICE);
		return 4;
	}
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0 || read_file(FAILSLAB "ignore-gfp-wait", saved_ign, sizeof(saved_ign)) ||
	    read_file(FAILSLAB "verbose", saved_verbose, sizeof(saved_verbose))) {
		printf("1..0 # SKIP no fail-nth or failslab (needs CONFIG_FAILSLAB, debugfs, root)\n");
		return 4;
	}
	saved_ign[strcspn(saved_ign, "\n")] = 0;
	saved_verbose[strcspn(saved_verbose, "\n")] = 0;
	if (write_file(FAILSLAB "verbose", "0") || write_file(FAILSLAB "ignore-gfp-wait", "N")) {
		printf("1..0 # SKIP cannot configure failslab\n");
		restore_failslab();
		return 4;
	}
	{
		struct xpoll_version v = { 0 };
		int x = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);

		have_ring = x >= 0 && !ioctl(x, XPOLL_IOC_VERSION, &v) &&
			    (v.features & XPOLL_FEAT_RING);
		if (x >= 0)
			close(x);
	}
	printf("1..%zu\n", sizeof(ops) / sizeof(ops[0]) + NRING_OPS + 1 + 2);

	/* the baseline instance: two ready LT items, one idle ET item */
	inst = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	e_ready = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	e_idle = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) || write(p[1], "x", 1) != 1)
		return 1;
	p_rd = p[0];
	p_wr = p[1];
	r = xp_ctl(inst, XPOLL_CTL_ADD, e_ready, EPOLLIN, 0x1);
	r |= xp_ctl(inst, XPOLL_CTL_ADD, p_rd, EPOLLIN, 0x2);
	r |= xp_ctl(inst, XPOLL_CTL_ADD, e_idle, EPOLLIN | EPOLLET, 0x3);
	/* an idle level-triggered user event, for user_event_trigger */
	r |= xp_uev(inst, XPOLL_CTL_ADD, UEV_BASE, EPOLLIN, 0x4);
	/* the targets of the operations under test */
	extra_e = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	extra_dup = dup(e_ready);
	extra_inst = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
	inner_e = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	r |= xp_ctl(extra_inst, XPOLL_CTL_ADD, inner_e, EPOLLIN, 0x20);
	extra_ep = epoll_create1(EPOLL_CLOEXEC);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 1;
	extra_sock[0] = sv[0];
	extra_sock[1] = sv[1];
	extra_proc = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
	extra_pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (r || inst < 0 || extra_inst < 0 || extra_proc < 0 || extra_pty < 0) {
		printf("Bail out! setup failed (%d)\n", r);
		restore_failslab();
		return 1;
	}

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		run_op(i + 1, &ops[i]);
	if (have_ring) {
		ring_sweep(i + 1);
	} else {
		for (int k = 0; k <= NRING_OPS; k++)
			printf("ok %d %s # SKIP the module has no XPOLL_FEAT_RING\n",
			       (int)i + 1 + k, k < NRING_OPS ? ring_ops[k].name :
			       "ring_charges_given_back");
		tests += NRING_OPS + 1;
	}
	restore_failslab();
	printf("# allocation sites failed on purpose: %ld with a clean ENOMEM, %ld absorbed by a fallback\n",
	       total_enomem, total_absorbed);

	close(inst);
	close(extra_inst);
	close(inner_e);
	close(extra_ep);
	r = kmemleak_check();
	tests++;
	if (r < 0) {
		printf("ok %d kmemleak names no xpoll object # SKIP no kmemleak\n", tests);
	} else {
		failed += r > 0;
		printf("%sok %d kmemleak names no xpoll object\n", r ? "not " : "", tests);
	}
	/* nothing failed with ENOMEM: then the test proved nothing */
	tests++;
	failed += !total_enomem;
	printf("%sok %d at least one allocation was failed with ENOMEM (%ld)\n",
	       total_enomem ? "" : "not ", tests, total_enomem);
	return failed ? 1 : 0;
}
