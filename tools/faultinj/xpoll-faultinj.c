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
 * At the end a kmemleak scan must not name xpoll.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/xpoll.h>

#define FAILSLAB "/sys/kernel/debug/failslab/"
#define MAX_NTH 400

static int nth_fd = -1, inst = -1;
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

static void fdinfo(int fd, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (read_file(path, buf, len))
		snprintf(buf, len, "<fdinfo unreadable: %s>", strerror(errno));
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
};

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
	{ "open", op_open, undo_open, 1 },
	{ "ctl_add_eventfd", op_add_new, undo_add_new, 0 },
	{ "ctl_add_dup_of_watched_file", op_add_dup, undo_add_dup, 0 },
	{ "ctl_add_pipe_two_queues", op_add_pipe, undo_add_pipe, 0 },
	{ "ctl_add_xpoll_instance", op_add_nested, undo_add_nested, 0 },
	{ "ctl_add_epoll_instance", op_add_epoll, undo_add_epoll, 0 },
	{ "ctl_add_socket_exclusive", op_add_sock, undo_add_sock, 0 },
	{ "ctl_add_first_file_of_a_filesystem", op_add_first_on_fs, undo_add_first_on_fs, 0 },
	{ "ctl_add_pty_master_pinned", op_add_pinned, undo_add_pinned, 0 },
	{ "ctl_add_wakeup_source", op_add_wakeup, undo_add_wakeup, 0 },
	{ "ctl_wait_add_eventfd", op_ctl_wait_add, undo_add_wakeup, 0 },
	{ "ctl_mod_adds_wakeup_source", op_mod_wakeup, undo_mod, 0 },
	{ "ctl_mod", op_mod, undo_mod, 0 },
	{ "ctl_del", op_del, undo_del, 0 },
	{ "user_event_add", op_uev_add, undo_uev_add, 0 },
	{ "user_event_add_et", op_uev_add_plain, undo_uev_add, 0 },
	{ "user_event_trigger", op_uev_trigger, undo_uev_trigger, 0 },
	{ "ctl_wait_user_event_add_trigger", op_uev_ctl_wait, undo_uev_add, 0 },
	{ "min_wait", op_min_wait, nothing, 0 },
	{ "wait", op_wait, nothing, 0 },
	{ "wait_sigmask", op_wait_sigmask, nothing, 0 },
	{ "wait_nested", op_wait_nested, nothing, 0 },
};

static void run_op(int idx, const struct op *o)
{
	static char base_info[8192], info[8192], base_ev[256], ev[256];
	unsigned int n, left = 0;
	int r, bad = 0, enomem = 0, absorbed = 0, allocs = -1;
	char why[1024] = "";

	fdinfo(inst, base_info, sizeof(base_info));
	events_now(base_ev, sizeof(base_ev));
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
			break;
		}
		if (r == 0) {
			absorbed++;
			o->undo();
		} else if (r == -ENOMEM) {
			enomem++;
			if (!o->is_open) {
				fdinfo(inst, info, sizeof(info));
				if (strcmp(info, base_info)) {
					snprintf(why, sizeof(why),
						 "allocation %u failed: ENOMEM but fdinfo changed", n);
					bad = 1;
					printf("# before:\n# %s\n# after:\n# %s\n", base_info, info);
				}
			}
			/* the instance still delivers exactly what it did */
			events_now(ev, sizeof(ev));
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
		fdinfo(inst, info, sizeof(info));
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
	printf("1..%zu\n", sizeof(ops) / sizeof(ops[0]) + 2);

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
