// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll-stress: race stress for /dev/xpoll (issue 5, item 1).
 *
 * Every scenario below runs at the same time for --seconds N (default 20),
 * so that the kernel sees ctl, wait, wakeup callbacks, target closes, forks
 * and instance teardown interleaved with each other. Each scenario checks
 * invariants as it goes and the program prints one TAP line per scenario.
 *
 *  ctl_checked   ADD/MOD/DEL of shared eventfds by several threads, each
 *                registration tagged (slot, generation). A registration is
 *                "retired" the moment its DEL or MOD returns; a wait that
 *                *started* after that moment must never report its tag.
 *  lt_single     permanently readable level-triggered targets: every wait of
 *                the single waiter of that instance must report each one of
 *                them exactly once, whatever else happens on the instance.
 *  chaos_counts  unlocked ADD/MOD/DEL races on the same fds of one instance;
 *                every errno must be the one epoll_ctl would give, and at the
 *                end ADDs - DELs == items in fdinfo == items DEL can remove.
 *  close_dup     dup + close of registered targets: a closed dup keeps its
 *                item reporting while the file lives; closing every fd stops
 *                reports at once; a closed socket's peer sees EOF; the items
 *                of closed files disappear from fdinfo.
 *  fork          parent and child wait on one shared instance.
 *  close_inst    (own process) an instance closed while a thread waits on it
 *                and another waits on an epoll set that contains it.
 *  nested        (own process) xpoll > xpoll > eventfds and
 *                xpoll > epoll > xpoll, the innermost torn down and rebuilt
 *                while events flow; direct cycles must give ELOOP.
 *  close_race    creators make targets (UNIX socketpairs, pipes, eventfds,
 *                timerfds, now and then an instance with an eventfd inside
 *                and, if fanotify_init() works, a fanotify group), ADD them
 *                to a shared instance and a second one, and close them
 *                without DEL (after a dup, or in flight over SCM_RIGHTS);
 *                other threads ADD/MOD/DEL random descriptor numbers of
 *                the same range and wait on both instances, and one thread
 *                closes and re-creates the second instance under their
 *                feet. Every errno must be epoll_ctl's; no wait begun after
 *                a target's last close reports it (tags carry generations);
 *                a closed socket's peer sees EOF within 1 s; at the end no
 *                item of a closed file is left and fs/file-nr is back.
 *  nest_race     (own process) random DAGs of instances (depth <= 4) over
 *                eventfds, changed under a model: every instance ADD gives
 *                the model's result (self EINVAL, cycle or depth ELOOP),
 *                instances are closed in the middle of the graph while
 *                events flow and others wait on them; an instance with a
 *                level-triggered path to a readable eventfd reports it.
 *  ring          (own processes, uid 65534 and 65533) the ready ring: a
 *                checked ring (tagged churn, generators, harvesters by
 *                compare-and-swap, waiters, fork children harvesting), a
 *                scribbled one (random bytes over the mapping, the
 *                mapping replaced), a lifecycle loop (closed while mapped,
 *                unmapped and mapped again, targets closed, fork), the
 *                RLIMIT_MEMLOCK charge, a root canary; see "ring" below.
 *                Skipped without XPOLL_FEAT_RING and with --epoll.
 *
 * --only NAME[,NAME...] runs those scenarios alone (the others are
 * reported as skipped).
 *
 * Counters and the first failure of each scenario live in a MAP_SHARED page
 * so the two scenario processes report through it too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <linux/xpoll.h>

enum { S_CTL, S_LT, S_CHAOS, S_CLOSE, S_FORK, S_INST, S_NEST, S_CRACE,
       S_NRACE, S_RING, NSCEN };

static const char *const scen_name[NSCEN] = {
	"ctl_checked", "lt_single", "chaos_counts", "close_dup", "fork",
	"close_inst", "nested", "close_race", "nest_race", "ring",
};

struct scen {
	atomic_long fails;
	atomic_long iters;
	atomic_int skip;	/* 1: --epoll, 2: no feature, 3: not selected */
	char msg[512];
};

struct shared {
	atomic_int go;		/* every thread and process created: run */
	atomic_int stop;
	atomic_long ops;
	struct scen sc[NSCEN];
};

static struct shared *sh;

static void fail(int s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	long n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = atomic_fetch_add(&sh->sc[s].fails, 1);
	if (n == 0)
		memcpy(sh->sc[s].msg, buf, sizeof(buf));
	if (n < 3) {
		char line[600];
		int len = snprintf(line, sizeof(line), "# %s: %s\n",
				   scen_name[s], buf);

		if (write(1, line, len) < 0)
			_exit(2);
	}
}

static int stopped(void)
{
	return atomic_load_explicit(&sh->stop, memory_order_relaxed);
}

static void op(void)
{
	atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static uint64_t seed_of(int n)
{
	return 0x9e3779b97f4a7c15ULL * (uint64_t)(n + 1) ^ (uint64_t)getpid();
}

/*
 * ---- thin wrappers: 0 / count on success, -errno on failure ----------
 * With --epoll they drive the kernel's epoll instead: the reference run
 * that shows every invariant checked here holds for epoll itself.
 */
static int use_epoll;

static int xp_open(void)
{
	op();
	if (use_epoll)
		return epoll_create1(EPOLL_CLOEXEC);
	return open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);
}

static int xp_ctl(int xfd, int o, int fd, uint32_t ev, uint64_t data)
{
	struct xpoll_ctl c = { .op = o, .fd = fd, .events = ev, .data = data };
	struct epoll_event ee = { .events = ev, .data.u64 = data };

	op();
	if (use_epoll)
		return epoll_ctl(xfd, o, fd, &ee) ? -errno : 0;
	return ioctl(xfd, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

static int xp_wait(int xfd, struct epoll_event *ev, int max, long long ns)
{
	struct xpoll_wait w = {
		.events = (uintptr_t)ev, .maxevents = max, .timeout_ns = ns,
	};
	int r;

	op();
	if (use_epoll) {
		struct timespec ts = { ns / 1000000000, ns % 1000000000 };

		r = syscall(SYS_epoll_pwait2, xfd, ev, max, ns < 0 ? NULL : &ts,
			    NULL, 8);
	} else {
		r = ioctl(xfd, XPOLL_IOC_WAIT, &w);
	}
	return r < 0 ? -errno : r;
}

static void efd_write(int fd)
{
	uint64_t one = 1;

	op();
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("eventfd write");
}

static void efd_read(int fd)
{
	uint64_t v;

	op();
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		perror("eventfd read");
}

static int new_efd(unsigned int init)
{
	int fd = eventfd(init, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0) {
		perror("eventfd");
		exit(2);
	}
	op();
	return fd;
}

/* Number of "tfd:" lines in this process's fdinfo for fd. */
static int fdinfo_items(int fd)
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "tfd:", 4))
			n++;
	fclose(f);
	return n;
}

static const uint32_t modes[] = {
	EPOLLIN, EPOLLIN | EPOLLET, EPOLLIN | EPOLLONESHOT,
	EPOLLIN | EPOLLOUT, EPOLLOUT | EPOLLET, EPOLLIN | EPOLLRDHUP,
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

/* ================= ctl_checked ======================================= */

#define NSLOT 16
#define RING 256
#define GEN_BITS 40
#define GEN_MASK ((1ULL << GEN_BITS) - 1)

struct slot {
	pthread_mutex_t ctl_lock;	/* serialises ctl on this slot */
	int efd;
	int registered;
	uint64_t gen;			/* generation registered now */
	atomic_ullong maxgen;		/* highest generation ever used */
	pthread_spinlock_t ring_lock;	/* protects ring */
	struct { uint64_t gen, seq; } ring[RING];
};

static struct slot slots[NSLOT];
static int inst_b;
static atomic_ullong gseq;

static uint64_t tag_of(int s, uint64_t g)
{
	return (uint64_t)s << GEN_BITS | g;
}

static void retire(struct slot *sl, uint64_t g)
{
	uint64_t seq = atomic_fetch_add(&gseq, 1) + 1;

	pthread_spin_lock(&sl->ring_lock);
	sl->ring[g % RING].gen = g;
	sl->ring[g % RING].seq = seq;
	pthread_spin_unlock(&sl->ring_lock);
}

static void *ctl_thread(void *arg)
{
	uint64_t rs = seed_of((int)(intptr_t)arg);

	while (!stopped()) {
		int s = rnd(&rs) % NSLOT, r;
		struct slot *sl = &slots[s];
		uint32_t m = modes[rnd(&rs) % NMODES];
		uint64_t g;

		pthread_mutex_lock(&sl->ctl_lock);
		if (rnd(&rs) % 8 == 0) {
			/* the wrong op for the slot's state: exact errno */
			if (sl->registered) {
				r = xp_ctl(inst_b, XPOLL_CTL_ADD, sl->efd, m, 0);
				if (r != -EEXIST)
					fail(S_CTL, "second ADD gave %d, not -EEXIST", r);
			} else {
				int o = rnd(&rs) & 1 ? XPOLL_CTL_DEL : XPOLL_CTL_MOD;

				r = xp_ctl(inst_b, o, sl->efd, m, 0);
				if (r != -ENOENT)
					fail(S_CTL, "op %d on absent item gave %d, not -ENOENT", o, r);
			}
		} else if (!sl->registered) {
			g = atomic_fetch_add(&sl->maxgen, 1) + 1;
			r = xp_ctl(inst_b, XPOLL_CTL_ADD, sl->efd, m, tag_of(s, g));
			if (r)
				fail(S_CTL, "ADD slot %d gave %d", s, r);
			else {
				sl->registered = 1;
				sl->gen = g;
			}
		} else if (rnd(&rs) & 1) {
			r = xp_ctl(inst_b, XPOLL_CTL_DEL, sl->efd, 0, 0);
			if (r)
				fail(S_CTL, "DEL slot %d gave %d", s, r);
			else {
				retire(sl, sl->gen);
				sl->registered = 0;
			}
		} else {
			g = atomic_fetch_add(&sl->maxgen, 1) + 1;
			r = xp_ctl(inst_b, XPOLL_CTL_MOD, sl->efd, m, tag_of(s, g));
			if (r)
				fail(S_CTL, "MOD slot %d gave %d", s, r);
			else {
				retire(sl, sl->gen);
				sl->gen = g;
			}
		}
		pthread_mutex_unlock(&sl->ctl_lock);
		atomic_fetch_add(&sh->sc[S_CTL].iters, 1);
	}
	return NULL;
}

static void check_ctl_events(struct epoll_event *ev, int n, uint64_t start)
{
	for (int i = 0; i < n; i++) {
		uint64_t t = ev[i].data.u64, g = t & GEN_MASK;
		uint64_t s = t >> GEN_BITS;
		struct slot *sl;
		int bad;

		if (s >= NSLOT || !g || g > atomic_load(&slots[s].maxgen)) {
			fail(S_CTL, "event with unknown tag %#llx", (unsigned long long)t);
			continue;
		}
		if (!ev[i].events || ev[i].events & ~(uint32_t)(EPOLLIN | EPOLLOUT |
				EPOLLERR | EPOLLHUP | EPOLLRDNORM | EPOLLWRNORM))
			fail(S_CTL, "odd event bits %#x", ev[i].events);
		sl = &slots[s];
		pthread_spin_lock(&sl->ring_lock);
		bad = sl->ring[g % RING].gen == g && sl->ring[g % RING].seq <= start;
		pthread_spin_unlock(&sl->ring_lock);
		if (bad)
			fail(S_CTL, "event for slot %llu gen %llu reported by a wait begun after its DEL/MOD returned",
			     (unsigned long long)s, (unsigned long long)g);
	}
}

static void *ctl_waiter(void *arg)
{
	long long tmo = (intptr_t)arg ? 5000000 : 0;
	struct epoll_event ev[64];

	while (!stopped()) {
		uint64_t start = atomic_load(&gseq);
		int n = xp_wait(inst_b, ev, 64, tmo);

		if (n < 0 && n != -EINTR)
			fail(S_CTL, "wait gave %d", n);
		else if (n > 0)
			check_ctl_events(ev, n, start);
	}
	return NULL;
}

static void *ctl_flipper(void *arg)
{
	uint64_t rs = seed_of(100 + (int)(intptr_t)arg);

	while (!stopped()) {
		int s = rnd(&rs) % NSLOT;

		if (rnd(&rs) & 1)
			efd_write(slots[s].efd);
		else
			efd_read(slots[s].efd);
		if (rnd(&rs) % 16 == 0)
			usleep(100);
	}
	return NULL;
}

/* ================= lt_single ========================================= */

#define LT_K 6		/* permanently readable, LT */
#define LT_M 6		/* flipping, LT or ET */
#define LT_X 6		/* added and deleted by the ctl thread */

static int inst_c, inst_c2;
static int lt_perm[LT_K], lt_flip[LT_M], lt_extra[LT_X];

static void *lt_waiter(void *arg)
{
	static const long long tmos[] = { 0, 2000000, -1 };
	struct epoll_event ev[64];
	unsigned long it = 0;

	(void)arg;
	while (!stopped()) {
		int seen[LT_K] = { 0 }, n, i;
		uint64_t dup_mask = 0;

		n = xp_wait(inst_c, ev, 64, tmos[it++ % 3]);
		if (n < 0) {
			fail(S_LT, "wait gave %d", n);
			continue;
		}
		for (i = 0; i < n; i++) {
			uint64_t t = ev[i].data.u64;

			if (t < 0x100 || t >= 0x100 + 64) {
				fail(S_LT, "unknown tag %#llx", (unsigned long long)t);
				continue;
			}
			if (dup_mask & 1ULL << (t - 0x100))
				fail(S_LT, "tag %#llx twice in one wait", (unsigned long long)t);
			dup_mask |= 1ULL << (t - 0x100);
			if (t < 0x100 + LT_K)
				seen[t - 0x100]++;
		}
		for (i = 0; i < LT_K; i++)
			if (seen[i] != 1)
				fail(S_LT, "always-ready LT target %d reported %d times in a wait of %d events",
				     i, seen[i], n);
		atomic_fetch_add(&sh->sc[S_LT].iters, 1);
	}
	return NULL;
}

/* Two waiters on inst_c2: no exact-count promise, only sane results. */
static void *lt_waiter2(void *arg)
{
	struct epoll_event ev[64];

	(void)arg;
	while (!stopped()) {
		int n = xp_wait(inst_c2, ev, 64, 1000000);

		if (n < 0)
			fail(S_LT, "c2 wait gave %d", n);
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 < 0x100 || ev[i].data.u64 >= 0x100 + 64)
				fail(S_LT, "c2 unknown tag %#llx",
				     (unsigned long long)ev[i].data.u64);
	}
	return NULL;
}

static void *lt_ctl(void *arg)
{
	uint64_t rs = seed_of(200);
	int in[LT_X] = { 0 };

	(void)arg;
	while (!stopped()) {
		int i = rnd(&rs) % LT_X, j = rnd(&rs) % LT_M, r;
		uint32_t m = rnd(&rs) & 1 ? EPOLLIN : EPOLLIN | EPOLLET;

		if (in[i]) {
			r = xp_ctl(inst_c, XPOLL_CTL_DEL, lt_extra[i], 0, 0);
			in[i] = 0;
		} else {
			r = xp_ctl(inst_c, XPOLL_CTL_ADD, lt_extra[i], m,
				   0x100 + LT_K + LT_M + i);
			in[i] = 1;
		}
		if (r)
			fail(S_LT, "extra ctl gave %d", r);
		r = xp_ctl(inst_c, XPOLL_CTL_MOD, lt_flip[j], m, 0x100 + LT_K + j);
		if (r)
			fail(S_LT, "MOD flip gave %d", r);
		/* the flipping targets of c2 churn in and out */
		r = xp_ctl(inst_c2, XPOLL_CTL_DEL, lt_flip[j], 0, 0);
		if (r)
			fail(S_LT, "c2 DEL gave %d", r);
		r = xp_ctl(inst_c2, XPOLL_CTL_ADD, lt_flip[j], m, 0x100 + LT_K + j);
		if (r)
			fail(S_LT, "c2 ADD gave %d", r);
	}
	return NULL;
}

static void *lt_flipper(void *arg)
{
	uint64_t rs = seed_of(300);

	(void)arg;
	while (!stopped()) {
		int j = rnd(&rs) % LT_M;

		if (rnd(&rs) & 1)
			efd_write(lt_flip[j]);
		else
			efd_read(lt_flip[j]);
		if (rnd(&rs) % 8 == 0)
			usleep(50);
	}
	return NULL;
}

/* ================= chaos_counts ====================================== */

#define CH_N 12
static int inst_a, ch_fd[CH_N];
static atomic_long ch_adds, ch_dels;

static void *chaos_ctl(void *arg)
{
	uint64_t rs = seed_of(400 + (int)(intptr_t)arg);

	while (!stopped()) {
		int i = rnd(&rs) % CH_N, o = 1 + rnd(&rs) % 3, r;
		uint32_t m = modes[rnd(&rs) % NMODES];
		int excl = rnd(&rs) % 8 == 0;

		if (excl)
			m = (m & (EPOLLIN | EPOLLOUT | EPOLLET)) | EPOLLEXCLUSIVE;
		r = xp_ctl(inst_a, o, ch_fd[i], m, 0xA000 + i);
		switch (o) {
		case XPOLL_CTL_ADD:
			if (!r)
				atomic_fetch_add(&ch_adds, 1);
			else if (r != -EEXIST)
				fail(S_CHAOS, "ADD gave %d", r);
			break;
		case XPOLL_CTL_DEL:
			if (!r)
				atomic_fetch_add(&ch_dels, 1);
			else if (r != -ENOENT)
				fail(S_CHAOS, "DEL gave %d", r);
			break;
		default:
			/* MOD: EINVAL for EPOLLEXCLUSIVE in the request or in the item */
			if (excl && r != -EINVAL)
				fail(S_CHAOS, "MOD with EPOLLEXCLUSIVE gave %d, not -EINVAL", r);
			else if (r && r != -ENOENT && r != -EINVAL)
				fail(S_CHAOS, "MOD gave %d", r);
		}
		atomic_fetch_add(&sh->sc[S_CHAOS].iters, 1);
	}
	return NULL;
}

static void *chaos_waiter(void *arg)
{
	long long tmo = (intptr_t)arg ? 3000000 : 0;
	struct epoll_event ev[32];

	while (!stopped()) {
		int n = xp_wait(inst_a, ev, 32, tmo);

		if (n < 0)
			fail(S_CHAOS, "wait gave %d", n);
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 < 0xA000 || ev[i].data.u64 >= 0xA000 + CH_N)
				fail(S_CHAOS, "unknown tag %#llx",
				     (unsigned long long)ev[i].data.u64);
	}
	return NULL;
}

static void *chaos_flipper(void *arg)
{
	uint64_t rs = seed_of(500);
	char buf[256];

	(void)arg;
	while (!stopped()) {
		int i = rnd(&rs) % CH_N;

		if (i < 6) {
			if (rnd(&rs) & 1)
				efd_write(ch_fd[i]);
			else
				efd_read(ch_fd[i]);
		} else if (i < 9) {	/* pipe read ends: drain */
			op();
			if (read(ch_fd[i], buf, sizeof(buf)) < 0 && errno != EAGAIN)
				fail(S_CHAOS, "pipe read: %s", strerror(errno));
		} else {		/* pipe write ends: fill a little */
			op();
			if (write(ch_fd[i], buf, 1 + rnd(&rs) % 200) < 0 && errno != EAGAIN)
				fail(S_CHAOS, "pipe write: %s", strerror(errno));
		}
		if (rnd(&rs) % 16 == 0)
			usleep(100);
	}
	return NULL;
}

static void chaos_final(void)
{
	long want = atomic_load(&ch_adds) - atomic_load(&ch_dels);
	int items = fdinfo_items(inst_a), removed = 0;

	if (items != want)
		fail(S_CHAOS, "ADDs-DELs = %ld but fdinfo lists %d items", want, items);
	for (int i = 0; i < CH_N; i++)
		if (!xp_ctl(inst_a, XPOLL_CTL_DEL, ch_fd[i], 0, 0))
			removed++;
	if (removed != want)
		fail(S_CHAOS, "ADDs-DELs = %ld but %d items could be deleted", want, removed);
	if (fdinfo_items(inst_a) != 0)
		fail(S_CHAOS, "items left in fdinfo after deleting all");
	printf("# chaos_counts: %ld adds, %ld dels, %d items at the end\n",
	       atomic_load(&ch_adds), atomic_load(&ch_dels), removed);
}

/* ================= close_dup and fork ================================ */

/*
 * A forked child holds copies of every descriptor, which keeps files alive
 * that close_dup expects to die; fork_lock keeps the two apart.
 * close_race's creators hold fork_rw for reading from a target's creation
 * to its last close (many at once); fork() itself takes it for writing, so
 * a child inherits none of their targets.
 */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t fork_rw;

static int tag_seen(int xfd, uint64_t tag, int *n_out)
{
	struct epoll_event ev[64];
	int n = xp_wait(xfd, ev, 64, 0), hit = 0;

	if (n_out)
		*n_out = n;
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == tag)
			hit = 1;
	return hit;
}

static void close_dup_iter(int d, uint64_t *rs, int id, unsigned long it)
{
	uint64_t t1 = (uint64_t)id << 32 | (it * 2), t2 = t1 + 1;
	int e, e2, r, n;

	pthread_mutex_lock(&fork_lock);
	e = new_efd(1);
	e2 = dup(e);
	op();
	r = xp_ctl(d, XPOLL_CTL_ADD, e, EPOLLIN, t1);
	r |= xp_ctl(d, XPOLL_CTL_ADD, e2, EPOLLIN | (rnd(rs) & 1 ? EPOLLET : 0), t2);
	if (r)
		fail(S_CLOSE, "ADD of eventfd and its dup gave %d", r);
	if (!tag_seen(d, t1, &n))
		fail(S_CLOSE, "readable eventfd not reported (wait gave %d)", n);
	close(e2);
	op();
	/* epoll semantics: the dup's item lives while the file does */
	if (!tag_seen(d, t1, NULL))
		fail(S_CLOSE, "original not reported after closing its dup");
	if (rnd(rs) & 1)
		efd_write(e);	/* a new edge for the ET variant */
	close(e);
	op();
	if (tag_seen(d, t1, &n) || tag_seen(d, t2, &n))
		fail(S_CLOSE, "event reported for an eventfd whose every fd is closed");
	pthread_mutex_unlock(&fork_lock);
}

static void close_sock_iter(int d, int id, unsigned long it)
{
	struct pollfd p;
	int sv[2], r;
	char c;
	struct timespec t0, t1;

	pthread_mutex_lock(&fork_lock);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		pthread_mutex_unlock(&fork_lock);
		return;
	}
	r = xp_ctl(d, XPOLL_CTL_ADD, sv[0], EPOLLIN | EPOLLRDHUP, (uint64_t)id << 32 | 0x80000000 | it);
	if (r)
		fail(S_CLOSE, "ADD socket gave %d", r);
	close(sv[0]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p.fd = sv[1];
	p.events = POLLIN;
	r = poll(&p, 1, 5000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != 1 || read(sv[1], &c, 1) != 0)
		fail(S_CLOSE, "peer of a closed registered socket saw no EOF in 5 s");
	else if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > 3000)
		fail(S_CLOSE, "peer saw EOF only after %ld ms",
		     (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	close(sv[1]);
	pthread_mutex_unlock(&fork_lock);
}

static int close_inst[2];

static void *close_dup_thread(void *arg)
{
	int id = (int)(intptr_t)arg, d = close_inst[id];
	uint64_t rs = seed_of(600 + id);
	unsigned long it = 0;

	while (!stopped()) {
		if (it % 64 == 63)
			close_sock_iter(d, id, it);
		else
			close_dup_iter(d, &rs, id, it);
		it++;
		atomic_fetch_add(&sh->sc[S_CLOSE].iters, 1);
	}
	return NULL;
}

static void close_final(void)
{
	for (int id = 0; id < 2; id++) {
		int n = -1;

		/* items of closed files are reaped "promptly": allow 5 s */
		for (int i = 0; i < 50; i++) {
			n = fdinfo_items(close_inst[id]);
			if (n == 0)
				break;
			usleep(100000);
		}
		if (n != 0)
			fail(S_CLOSE, "instance %d still lists %d items of closed files after 5 s", id, n);
	}
}

static void fork_child(int f, int e)
{
	struct epoll_event ev[8];
	int mine = eventfd(0, EFD_NONBLOCK), n, code = 0;

	if (xp_ctl(f, XPOLL_CTL_ADD, mine, EPOLLIN, 0x5001))
		code |= 1;
	n = xp_wait(f, ev, 8, 1000000000LL);
	if (n != 1 || ev[0].data.u64 != 0x5000 || !(ev[0].events & EPOLLIN))
		code |= 2;
	if (xp_ctl(f, XPOLL_CTL_DEL, mine, 0, 0))
		code |= 4;
	(void)e;
	_exit(code);
}

static void *fork_thread(void *arg)
{
	struct epoll_event ev[8];

	(void)arg;
	while (!stopped()) {
		int f = xp_open(), e = new_efd(0), st, n;
		pid_t pid;

		if (f < 0) {
			fail(S_FORK, "open: %s", strerror(errno));
			break;
		}
		if (xp_ctl(f, XPOLL_CTL_ADD, e, EPOLLIN, 0x5000))
			fail(S_FORK, "ADD failed");
		pthread_mutex_lock(&fork_lock);
		efd_write(e);
		/* no close_race target exists while we fork, only its instances */
		pthread_rwlock_wrlock(&fork_rw);
		pid = fork();
		if (pid == 0)
			fork_child(f, e);
		pthread_rwlock_unlock(&fork_rw);
		n = xp_wait(f, ev, 8, 1000000000LL);
		if (n < 1 || (ev[0].data.u64 != 0x5000 && ev[0].data.u64 != 0x5001))
			fail(S_FORK, "parent wait gave %d", n);
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			fail(S_FORK, "fork/waitpid failed");
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail(S_FORK, "child failed, status %#x", st);
		pthread_mutex_unlock(&fork_lock);
		close(f);
		close(e);
		atomic_fetch_add(&sh->sc[S_FORK].iters, 1);
	}
	return NULL;
}

/* ================= close_inst (own process) ========================== */

static pthread_barrier_t ci_bar;
static atomic_int ci_x = -1;
static int ci_epfd;

static void *ci_xwaiter(void *arg)
{
	struct epoll_event ev[4];

	(void)arg;
	for (;;) {
		int n, x;

		pthread_barrier_wait(&ci_bar);
		x = atomic_load(&ci_x);
		if (x < 0)
			break;
		n = xp_wait(x, ev, 4, 20000000);
		/* closed before we got in: EBADF; number reused: ENOTTY */
		if (n < 0 && n != -EBADF && n != -ENOTTY)
			fail(S_INST, "wait on a closing instance gave %d", n);
		if (n > 0 && ev[0].data.u64 != 0x6000)
			fail(S_INST, "wait returned tag %#llx", (unsigned long long)ev[0].data.u64);
		pthread_barrier_wait(&ci_bar);
	}
	return NULL;
}

static void *ci_ewaiter(void *arg)
{
	struct epoll_event ev[4];
	unsigned long it = 0;

	(void)arg;
	for (;;) {
		int n, x;

		pthread_barrier_wait(&ci_bar);
		x = atomic_load(&ci_x);
		if (x < 0)
			break;
		if (it++ & 1) {
			struct pollfd p = { .fd = x, .events = POLLIN };

			op();
			n = poll(&p, 1, 20);
			if (n < 0)
				fail(S_INST, "poll gave %s", strerror(errno));
		} else {
			op();
			n = epoll_wait(ci_epfd, ev, 4, 20);
			if (n < 0)
				fail(S_INST, "epoll_wait gave %s", strerror(errno));
			if (n > 0 && ev[0].data.u64 != 0x6001)
				fail(S_INST, "epoll returned tag %#llx", (unsigned long long)ev[0].data.u64);
		}
		pthread_barrier_wait(&ci_bar);
	}
	return NULL;
}

static void close_inst_proc(void)
{
	struct epoll_event ee = { .events = EPOLLIN };
	pthread_t t1, t2;
	uint64_t rs = seed_of(700);

	ci_epfd = epoll_create1(EPOLL_CLOEXEC);
	pthread_barrier_init(&ci_bar, NULL, 3);
	pthread_create(&t1, NULL, ci_xwaiter, NULL);
	pthread_create(&t2, NULL, ci_ewaiter, NULL);
	while (!stopped()) {
		int x = xp_open(), e = new_efd(0), n;

		if (x < 0) {
			fail(S_INST, "open: %s", strerror(errno));
			break;
		}
		if (xp_ctl(x, XPOLL_CTL_ADD, e, EPOLLIN, 0x6000))
			fail(S_INST, "ADD failed");
		ee.data.u64 = 0x6001;
		op();
		if (epoll_ctl(ci_epfd, EPOLL_CTL_ADD, x, &ee))
			fail(S_INST, "epoll_ctl ADD xpoll fd: %s", strerror(errno));
		atomic_store(&ci_x, x);
		pthread_barrier_wait(&ci_bar);
		if (rnd(&rs) & 1)
			efd_write(e);
		usleep(rnd(&rs) % 3000);
		close(x);
		op();
		if (rnd(&rs) & 1)
			efd_write(e);
		if (rnd(&rs) & 1) {
			close(e);
			e = -1;
		}
		pthread_barrier_wait(&ci_bar);
		/* every reference is gone: epoll must have dropped the instance */
		n = fdinfo_items(ci_epfd);
		if (n != 0)
			fail(S_INST, "epoll set still lists %d items after the xpoll instance was closed", n);
		if (e >= 0)
			close(e);
		atomic_fetch_add(&sh->sc[S_INST].iters, 1);
	}
	atomic_store(&ci_x, -1);
	pthread_barrier_wait(&ci_bar);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
}

/* ================= nested (own process) ============================== */

#define NE 5
static int ne_e[NE], ne_o, ne_o2, ne_ep;
static atomic_int ne_m = -1;

static void *ne_flipper(void *arg)
{
	uint64_t rs = seed_of(800);

	(void)arg;
	while (!stopped()) {
		int i = rnd(&rs) % NE;

		if (rnd(&rs) & 1)
			efd_write(ne_e[i]);
		else
			efd_read(ne_e[i]);
		if (rnd(&rs) % 8 == 0)
			usleep(200);
	}
	return NULL;
}

static void *ne_waiter(void *arg)
{
	int which = (int)(intptr_t)arg;
	struct epoll_event ev[16];

	while (!stopped()) {
		int n, i;

		if (which == 0) {
			n = xp_wait(ne_o2, ev, 16, 5000000);
			for (i = 0; i < n; i++)
				if (ev[i].data.u64 != 0x7002)
					fail(S_NEST, "outer instance: tag %#llx", (unsigned long long)ev[i].data.u64);
		} else if (which == 1) {
			n = xp_wait(ne_o, ev, 16, 5000000);
			for (i = 0; i < n; i++)
				if (ev[i].data.u64 != 0x7001 && ev[i].data.u64 != 0x7005)
					fail(S_NEST, "middle instance: tag %#llx", (unsigned long long)ev[i].data.u64);
		} else {
			op();
			n = epoll_wait(ne_ep, ev, 16, 5);
			if (n < 0)
				n = -errno;
			for (i = 0; i < n; i++)
				if (ev[i].data.u64 != 0x7003)
					fail(S_NEST, "epoll: tag %#llx", (unsigned long long)ev[i].data.u64);
		}
		if (n < 0)
			fail(S_NEST, "waiter %d gave %d", which, n);
	}
	return NULL;
}

static int ne_build_inner(void)
{
	int m = xp_open();

	if (m < 0) {
		fail(S_NEST, "open: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < NE - 1; i++)
		if (xp_ctl(m, XPOLL_CTL_ADD, ne_e[i], i & 1 ? EPOLLIN | EPOLLET : EPOLLIN, 0x7100 + i))
			fail(S_NEST, "inner ADD failed");
	return m;
}

static void nested_proc(void)
{
	struct epoll_event ee = { .events = EPOLLIN, .data.u64 = 0x7003 };
	pthread_t th[4];
	int i, r;

	for (i = 0; i < NE; i++)
		ne_e[i] = new_efd(0);
	ne_o = xp_open();
	ne_o2 = xp_open();
	ne_ep = epoll_create1(EPOLL_CLOEXEC);
	if (ne_o < 0 || ne_o2 < 0 || ne_ep < 0) {
		fail(S_NEST, "setup failed");
		return;
	}
	atomic_store(&ne_m, ne_build_inner());
	r = xp_ctl(ne_o, XPOLL_CTL_ADD, atomic_load(&ne_m), EPOLLIN, 0x7001);
	r |= xp_ctl(ne_o, XPOLL_CTL_ADD, ne_e[NE - 1], EPOLLIN, 0x7005);
	r |= epoll_ctl(ne_ep, EPOLL_CTL_ADD, ne_o, &ee);
	r |= xp_ctl(ne_o2, XPOLL_CTL_ADD, ne_ep, EPOLLIN, 0x7002);
	if (r)
		fail(S_NEST, "building xpoll>epoll>xpoll>xpoll failed");
	pthread_create(&th[0], NULL, ne_flipper, NULL);
	for (i = 0; i < 3; i++)
		pthread_create(&th[1 + i], NULL, ne_waiter, (void *)(intptr_t)i);
	while (!stopped()) {
		int m = atomic_load(&ne_m), m2;

		/* a direct cycle must be refused */
		r = xp_ctl(m, XPOLL_CTL_ADD, ne_o, EPOLLIN, 0);
		if (r != -ELOOP)
			fail(S_NEST, "cycle inner->middle gave %d, not -ELOOP", r);
		r = xp_ctl(ne_o, XPOLL_CTL_ADD, ne_o, EPOLLIN, 0);
		if (r != -EINVAL)
			fail(S_NEST, "adding an instance to itself gave %d, not -EINVAL", r);
		/* tear the inner instance down while events flow, rebuild it */
		if (atomic_load(&sh->sc[S_NEST].iters) & 1) {
			r = xp_ctl(ne_o, XPOLL_CTL_DEL, m, 0, 0);
			if (r)
				fail(S_NEST, "DEL inner gave %d", r);
		}
		close(m);
		op();
		m2 = ne_build_inner();
		if (m2 < 0)
			break;
		r = xp_ctl(ne_o, XPOLL_CTL_ADD, m2, EPOLLIN, 0x7001);
		if (r)
			fail(S_NEST, "ADD rebuilt inner gave %d", r);
		atomic_store(&ne_m, m2);
		usleep(1000);
		atomic_fetch_add(&sh->sc[S_NEST].iters, 1);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
}

/* ================= close_race ======================================== */

/*
 * Every descriptor close_race makes is moved to CR_BASE and above (cr_hi),
 * so that its threads that pick random numbers race on close_race's own
 * files only and leave the other scenarios' files alone.  A call that got
 * hold of a target's file keeps it open until it returns, so every thread
 * that may name a number it does not own (as the instance or as the
 * target) registers the numbers of each call, stamped from cr_hold_seq,
 * and a creator that closed a number waits for the calls stamped before
 * its close that named it (cr_drain) before it calls the target closed.
 */
#define CR_BASE 1024
#define CR_NFD 4096
#define CR_CREATORS 3
#define CR_RING 512
#define CR_T_TARGET 0xC1ULL	/* a creator's target, in a and b */
#define CR_T_INNER 0xC2ULL	/* the eventfd inside a nested target */
#define CR_T_ANON 0xA7ULL	/* what the random-number threads add */
#define CR_GEN_MASK ((1ULL << 48) - 1)
#define CR_TAG(cls, c, g) ((cls) << 56 | (uint64_t)(c) << 48 | (g))

enum { K_SOCK, K_PIPE, K_EFD, K_TIMER, K_INST, K_FAN, NKIND };
static const char *const cr_kind_name[NKIND] = {
	"socketpairs", "pipes", "eventfds", "timerfds", "instances", "fanotify",
};

static int cr_a;			/* the shared instance, never closed */
static atomic_int cr_bfd;		/* the second one, re-created */
static atomic_uint cr_bepoch;		/* odd while b's number is closed */
static atomic_int cr_top = CR_BASE;	/* highest number handed out */
static atomic_ullong cr_seq;
static atomic_long cr_kind_n[NKIND], cr_recreate, cr_events, cr_eof_max_us,
	cr_undrained, cr_scm_n, cr_eof_n, cr_eof_late;
static int cr_fan_ok;
static char cr_fan_path[CR_CREATORS][64];
static long cr_files_start;

struct cr_ring {
	pthread_spinlock_t lock;
	atomic_ullong maxgen;
	struct { uint64_t gen, seq; } r[CR_RING];
};
static struct cr_ring cr_ring[CR_CREATORS];

static long long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

static int cr_hi(int fd)
{
	int h, t;

	if (fd < 0)
		return -1;
	h = fcntl(fd, F_DUPFD_CLOEXEC, CR_BASE);
	close(fd);
	if (h < 0 || h >= CR_BASE + CR_NFD) {
		fail(S_CRACE, "F_DUPFD to %d and above gave %d: %s", CR_BASE, h,
		     strerror(errno));
		if (h >= 0)
			close(h);
		return -1;
	}
	t = atomic_load(&cr_top);
	while (h > t && !atomic_compare_exchange_weak(&cr_top, &t, h))
		;
	return h;
}

/* the calls in flight of the threads that name numbers they do not own */
enum { H_CTL = 0, H_WAIT = 2, H_CREATOR = 4, CR_HOLDERS = 4 + CR_CREATORS };
struct cr_holder {
	atomic_ullong seq;		/* stamp of the call in flight, 0: none */
	atomic_int x, fd, op;
	atomic_llong since;
};
static struct cr_holder cr_holder[CR_HOLDERS];
static atomic_ullong cr_hold_seq;

static void cr_hold(struct cr_holder *h, int op, int x, int fd)
{
	atomic_store(&h->op, op);
	atomic_store(&h->x, x);
	atomic_store(&h->fd, fd);
	atomic_store(&h->since, now_us());
	atomic_store(&h->seq, atomic_fetch_add(&cr_hold_seq, 1) + 1);
}

static atomic_llong cr_longest_us, cr_go_us;
static atomic_int cr_longest_op, cr_nslow;
static struct { int h, op, x, fd, ret; long long at, us; } cr_slow[8];

static void cr_unhold(struct cr_holder *h, int ret)
{
	long long us = now_us() - atomic_load(&h->since);

	atomic_store(&h->seq, 0);
	if (us > atomic_load(&cr_longest_us)) {
		atomic_store(&cr_longest_us, us);
		atomic_store(&cr_longest_op, atomic_load(&h->op));
	}
	if (us > 500000) {
		int n = atomic_fetch_add(&cr_nslow, 1);

		if (n < 8) {
			cr_slow[n].h = h - cr_holder;
			cr_slow[n].op = atomic_load(&h->op);
			cr_slow[n].x = atomic_load(&h->x);
			cr_slow[n].fd = atomic_load(&h->fd);
			cr_slow[n].ret = ret;
			cr_slow[n].at = atomic_load(&h->since) - atomic_load(&cr_go_us);
			cr_slow[n].us = us;
		}
	}
}

/* b's number, and whether it may have been closed under the caller */
struct cr_b {
	int fd;
	unsigned int epoch;
};

static struct cr_b cr_b_get(void)
{
	struct cr_b b;

	b.epoch = atomic_load(&cr_bepoch);
	b.fd = atomic_load(&cr_bfd);
	return b;
}

static int cr_b_moved(struct cr_b b)
{
	return (b.epoch & 1) || atomic_load(&cr_bepoch) != b.epoch;
}

/* epoll_ctl's errnos; ENOTTY only if b's number was not an instance then */
static int cr_ctl_ok(int r, int b_moved)
{
	switch (-r) {
	case 0: case EEXIST: case ENOENT: case EBADF: case EPERM: case ELOOP:
	case EINVAL:
		return 1;
	case ENOTTY:
		return b_moved;
	}
	return 0;
}

static void cr_retire(int c, uint64_t g)
{
	struct cr_ring *rg = &cr_ring[c];
	uint64_t seq = atomic_fetch_add(&cr_seq, 1) + 1;

	pthread_spin_lock(&rg->lock);
	rg->r[g % CR_RING].gen = g;
	rg->r[g % CR_RING].seq = seq;
	pthread_spin_unlock(&rg->lock);
}

/* Until no call that named one of these numbers before they closed runs. */
static int cr_drain(const int *fds, int n)
{
	uint64_t before = atomic_fetch_add(&cr_hold_seq, 1) + 1;
	long long t0 = now_us();
	static atomic_int told;

	for (int i = 0; i < n; i++) {
		for (int h = 0; h < CR_HOLDERS; h++) {
			struct cr_holder *hd = &cr_holder[h];
			uint64_t q;

			while ((q = atomic_load(&hd->seq)) && q < before &&
			       (atomic_load(&hd->x) == fds[i] ||
				atomic_load(&hd->fd) == fds[i])) {
				if (now_us() - t0 < 2000000) {
					sched_yield();
					continue;
				}
				if (atomic_fetch_add(&told, 1) < 3)
					printf("# close_race: number %d still named 2 s after its close by thread %d: op %d on %d, target %d, for %lld ms\n",
					       fds[i], h, atomic_load(&hd->op),
					       atomic_load(&hd->x), atomic_load(&hd->fd),
					       (now_us() - atomic_load(&hd->since)) / 1000);
				return 0;
			}
		}
	}
	return 1;
}

static void cr_add(int c, int fd, uint64_t tag, int is_inst, uint64_t *rs)
{
	uint32_t m = modes[rnd(rs) % NMODES];
	struct cr_b b;
	int r;

	if (!is_inst && rnd(rs) % 8 == 0)
		m = (m & (EPOLLIN | EPOLLOUT | EPOLLET)) | EPOLLEXCLUSIVE;
	/* EEXIST: a random-number thread added this number first */
	r = xp_ctl(cr_a, XPOLL_CTL_ADD, fd, m, tag);
	if (r && r != -EEXIST && !(is_inst && r == -ELOOP))
		fail(S_CRACE, "creator %d: ADD to the shared instance gave %d", c, r);
	b = cr_b_get();
	/* b's number may be another creator's target by now */
	cr_hold(&cr_holder[H_CREATOR + c], XPOLL_CTL_ADD, b.fd, fd);
	r = xp_ctl(b.fd, XPOLL_CTL_ADD, fd, m, tag);
	cr_unhold(&cr_holder[H_CREATOR + c], r);
	if (r && r != -EEXIST && !(is_inst && r == -ELOOP) &&
	    !(cr_b_moved(b) && cr_ctl_ok(r, 1)))
		fail(S_CRACE, "creator %d: ADD to the second instance gave %d", c, r);
}

static int cr_send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "f", .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	op();
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int cr_recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	op();
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* One target: made, made ready, added to a and b, closed without DEL. */
static void cr_iter(int c, uint64_t *rs)
{
	uint64_t g = atomic_fetch_add(&cr_ring[c].maxgen, 1) + 1;
	uint64_t tag = CR_TAG(CR_T_TARGET, c, g);
	struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };
	int closed[8], nclosed = 0, t = -1, peer = -1, other = -1, inner = -1;
	int p[2], kind, k = rnd(rs) % 16, r;

	kind = k < 4 ? K_SOCK : k < 7 ? K_PIPE : k < 10 ? K_EFD :
	       k < 13 ? K_TIMER : k < 15 ? K_INST : K_FAN;
	if (kind == K_FAN && !cr_fan_ok)
		kind = K_EFD;
	pthread_rwlock_rdlock(&fork_rw);
	op();
	switch (kind) {
	case K_SOCK:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p))
			break;
		t = cr_hi(p[0]);
		peer = cr_hi(p[1]);
		if (peer >= 0 && rnd(rs) & 1 && write(peer, "x", 1) != 1)
			fail(S_CRACE, "socket write: %s", strerror(errno));
		break;
	case K_PIPE:
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			break;
		k = rnd(rs) & 1;
		t = cr_hi(p[k]);
		other = cr_hi(p[!k]);
		if (!k && other >= 0 && write(other, "y", 1) != 1)
			fail(S_CRACE, "pipe write: %s", strerror(errno));
		break;
	case K_EFD:
		t = cr_hi(eventfd(rnd(rs) & 1, EFD_NONBLOCK | EFD_CLOEXEC));
		break;
	case K_TIMER:
		t = cr_hi(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
		if (t >= 0 && rnd(rs) % 4 && timerfd_settime(t, 0, &its, NULL))
			fail(S_CRACE, "timerfd_settime: %s", strerror(errno));
		break;
	case K_INST:
		/* a nested target, with an always-readable eventfd inside */
		t = cr_hi(xp_open());
		inner = cr_hi(eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));
		if (t >= 0 && inner >= 0) {
			r = xp_ctl(t, XPOLL_CTL_ADD, inner, EPOLLIN,
				   CR_TAG(CR_T_INNER, c, g));
			if (r && r != -EEXIST)
				fail(S_CRACE, "ADD into a nested target gave %d", r);
		}
		break;
	default:
		/* EMFILE while closed groups wait for the reaper: skip */
		t = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
		if (t < 0)
			break;
		t = cr_hi(t);
		/* one event queued: the group descriptor is readable */
		if (t >= 0 && !fanotify_mark(t, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD,
					     cr_fan_path[c])) {
			int f = open(cr_fan_path[c], O_RDONLY | O_CLOEXEC);

			if (f >= 0)
				close(f);
		}
	}
	if (t < 0) {
		if (peer >= 0)
			close(peer);
		if (other >= 0)
			close(other);
		if (inner >= 0)
			close(inner);
		pthread_rwlock_unlock(&fork_rw);
		return;
	}
	atomic_fetch_add(&cr_kind_n[kind], 1);
	cr_add(c, t, tag, kind == K_INST, rs);
	if (rnd(rs) % 4 == 0)
		usleep(300);	/* let the waiters see it */
	if (rnd(rs) % 4 == 0) {
		/* a dup, maybe watched too, closed first: the items stay */
		int d = cr_hi(dup(t));

		if (d >= 0) {
			if (rnd(rs) & 1)
				cr_add(c, d, tag, kind == K_INST, rs);
			close(d);
			closed[nclosed++] = d;
		}
	}
	if (rnd(rs) % 4 == 0) {
		/* in flight over SCM_RIGHTS to ourselves, maybe received back */
		int cc[2], t2 = -1;

		if (!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cc)) {
			cc[0] = cr_hi(cc[0]);
			cc[1] = cr_hi(cc[1]);
			if (cc[0] >= 0 && cc[1] >= 0 && !cr_send_fd(cc[0], t)) {
				atomic_fetch_add(&cr_scm_n, 1);
				if (rnd(rs) & 1)
					t2 = cr_hi(cr_recv_fd(cc[1]));
			}
			close(t);
			closed[nclosed++] = t;
			t = -1;
			if (t2 >= 0) {
				if (rnd(rs) & 1)
					cr_add(c, t2, tag, kind == K_INST, rs);
				close(t2);
				closed[nclosed++] = t2;
			}
			k = rnd(rs) & 1;
			for (int i = 0; i < 2; i++) {
				if (cc[k ^ i] >= 0) {
					close(cc[k ^ i]);
					closed[nclosed++] = cc[k ^ i];
				}
			}
		}
	}
	if (t >= 0) {
		close(t);
		closed[nclosed++] = t;
	}
	if (inner >= 0) {
		close(inner);
		closed[nclosed++] = inner;
	}
	op();
	if (!cr_drain(closed, nclosed)) {
		/* a call held the file for 2 s: no claim about this one */
		atomic_fetch_add(&cr_undrained, 1);
	} else {
		cr_retire(c, g);
		if (peer >= 0) {
			struct pollfd pf = { .fd = peer, .events = POLLIN };
			long long t0 = now_us(), us = 0;
			ssize_t n = -1;
			char ch;

			/* at once, as epoll; else how late (a preemption, or worse) */
			if (poll(&pf, 1, 0) != 1) {
				atomic_fetch_add(&cr_eof_late, 1);
				poll(&pf, 1, 1000);
				us = now_us() - t0;
			}
			if (pf.revents) {
				n = recv(peer, &ch, 1, MSG_DONTWAIT);
				/* closed with unread data: ECONNRESET, the other EOF */
				if (n < 0 && errno == ECONNRESET)
					n = 0;
			}
			if (n != 0)
				fail(S_CRACE, "peer of a closed watched socket: recv gave %zd, not EOF, %lld ms after the last close",
				     n, (now_us() - t0) / 1000);
			else if (us > atomic_load(&cr_eof_max_us))
				atomic_store(&cr_eof_max_us, us);
			atomic_fetch_add(&cr_eof_n, 1);
		}
	}
	if (peer >= 0)
		close(peer);
	if (other >= 0)
		close(other);
	pthread_rwlock_unlock(&fork_rw);
}

static void *cr_creator(void *arg)
{
	int c = (int)(intptr_t)arg;
	uint64_t rs = seed_of(900 + c);

	while (!stopped()) {
		cr_iter(c, &rs);
		atomic_fetch_add(&sh->sc[S_CRACE].iters, 1);
		if (rnd(&rs) % 4 == 0)
			usleep(200);
	}
	return NULL;
}

static void cr_check_events(struct epoll_event *ev, int n, uint64_t start)
{
	for (int i = 0; i < n; i++) {
		uint64_t t = ev[i].data.u64, cls = t >> 56, g = t & CR_GEN_MASK;
		unsigned int c = (t >> 48) & 0xff;
		struct cr_ring *rg;
		int bad;

		if (cls == CR_T_ANON)
			continue;
		if ((cls != CR_T_TARGET && cls != CR_T_INNER) || c >= CR_CREATORS ||
		    !g || g > atomic_load(&cr_ring[c].maxgen)) {
			fail(S_CRACE, "event with unknown tag %#llx", (unsigned long long)t);
			continue;
		}
		atomic_fetch_add(&cr_events, 1);
		rg = &cr_ring[c];
		pthread_spin_lock(&rg->lock);
		bad = rg->r[g % CR_RING].gen == g && rg->r[g % CR_RING].seq <= start;
		pthread_spin_unlock(&rg->lock);
		if (bad)
			fail(S_CRACE, "event %#x for creator %u's target %llu reported by a wait begun after its last close returned",
			     ev[i].events, c, (unsigned long long)g);
	}
}

static void *cr_waiter(void *arg)
{
	static const long long tmos[] = { 0, 0, 1000000, 3000000 };
	uint64_t rs = seed_of(920 + (int)(intptr_t)arg);
	struct epoll_event ev[64];
	struct cr_holder *me = &cr_holder[H_WAIT + (intptr_t)arg];

	while (!stopped()) {
		int onb = rnd(&rs) & 1, x, n;
		struct cr_b b = cr_b_get();
		uint64_t start;

		x = onb ? b.fd : cr_a;
		cr_hold(me, 0, x, -1);
		start = atomic_load(&cr_seq);
		n = xp_wait(x, ev, 64, tmos[rnd(&rs) % 4]);
		cr_unhold(me, n);
		if (n < 0 && !(onb && cr_b_moved(b) &&
			       (n == -EBADF || n == -ENOTTY || n == -EINVAL)))
			fail(S_CRACE, "wait on the %s instance gave %d",
			     onb ? "second" : "shared", n);
		if (n > 0)
			cr_check_events(ev, n, start);
	}
	return NULL;
}

/* ADD/MOD/DEL of random numbers of close_race's range, in a or b */
static void *cr_ctl(void *arg)
{
	uint64_t rs = seed_of(940 + (int)(intptr_t)arg);
	struct cr_holder *me = &cr_holder[H_CTL + (intptr_t)arg];

	while (!stopped()) {
		int top = atomic_load(&cr_top), onb = rnd(&rs) & 1, x, r;
		int fd = CR_BASE + rnd(&rs) % (top - CR_BASE + 5), o = 1 + rnd(&rs) % 3;
		uint32_t m = modes[rnd(&rs) % NMODES];
		struct cr_b b = cr_b_get();

		if (rnd(&rs) % 8 == 0)
			m = (m & (EPOLLIN | EPOLLOUT | EPOLLET)) | EPOLLEXCLUSIVE;
		x = onb ? b.fd : cr_a;
		cr_hold(me, o, x, fd);
		r = xp_ctl(x, o, fd, m, CR_TAG(CR_T_ANON, 0, rnd(&rs) & CR_GEN_MASK));
		cr_unhold(me, r);
		if (!cr_ctl_ok(r, onb && cr_b_moved(b)))
			fail(S_CRACE, "op %d on number %d in the %s instance gave %d",
			     o, fd, onb ? "second" : "shared", r);
	}
	return NULL;
}

/* closes and re-creates b while the others use its number */
static void *cr_recreator(void *arg)
{
	uint64_t rs = seed_of(960);

	(void)arg;
	while (!stopped()) {
		int old = atomic_load(&cr_bfd), n;

		usleep(2000 + rnd(&rs) % 8000);
		if (rnd(&rs) & 1) {
			/* dup3 closes the old one and reuses its number at once */
			n = xp_open();
			if (n < 0 || dup3(n, old, O_CLOEXEC) < 0)
				fail(S_CRACE, "re-creating b by dup3: %s", strerror(errno));
			if (n >= 0)
				close(n);
		} else {
			/* closed: for a moment the number is anyone's */
			atomic_fetch_add(&cr_bepoch, 1);
			close(old);
			op();
			n = cr_hi(xp_open());
			if (n < 0) {
				fail(S_CRACE, "re-creating b: %s", strerror(errno));
				break;
			}
			atomic_store(&cr_bfd, n);
			atomic_fetch_add(&cr_bepoch, 1);
		}
		atomic_fetch_add(&cr_recreate, 1);
	}
	return NULL;
}

static long files_nr(void)
{
	FILE *f = fopen("/proc/sys/fs/file-nr", "re");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static void cr_setup(void)
{
	int f;

	for (int c = 0; c < CR_CREATORS; c++) {
		pthread_spin_init(&cr_ring[c].lock, PTHREAD_PROCESS_PRIVATE);
		snprintf(cr_fan_path[c], sizeof(cr_fan_path[c]),
			 "/tmp/xpoll-stress-fan.%d.%d", (int)getpid(), c);
	}
	cr_a = cr_hi(xp_open());
	atomic_store(&cr_bfd, cr_hi(xp_open()));
	f = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
	if (f >= 0) {
		cr_fan_ok = 1;
		close(f);
		for (int c = 0; c < CR_CREATORS; c++) {
			f = open(cr_fan_path[c], O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
			if (f < 0)
				cr_fan_ok = 0;
			else
				close(f);
		}
	}
	if (!cr_fan_ok)
		printf("# close_race: no fanotify targets (fanotify_init: %s)\n",
		       strerror(errno));
}

static void cr_final(void)
{
	int top = atomic_load(&cr_top), b = atomic_load(&cr_bfd), na = -1, nb = -1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), tol, files = -1;
	char kinds[256];
	int len = 0;

	/*
	 * An item of a file that is still open goes by DEL; what is left
	 * then is an item of a closed file.  Pinned (fanotify) items go
	 * within about 100 ms: allow 3 s.
	 */
	for (int fd = CR_BASE; fd <= top + 4; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			continue;
		xp_ctl(cr_a, XPOLL_CTL_DEL, fd, 0, 0);
		xp_ctl(b, XPOLL_CTL_DEL, fd, 0, 0);
	}
	for (int i = 0; i < 60; i++) {
		na = fdinfo_items(cr_a);
		nb = fdinfo_items(b);
		if (!na && !nb)
			break;
		usleep(50000);
	}
	if (na || nb)
		fail(S_CRACE, "%d and %d items of closed files left in the two instances after 3 s",
		     na, nb);
	close(cr_a);
	close(b);
	for (int c = 0; c < CR_CREATORS; c++)
		unlink(cr_fan_path[c]);
	/*
	 * file-nr reads a per-CPU counter without summing it: each reading is
	 * off by less than a batch (max(32, 2 * CPUs)) per CPU, either way.
	 */
	if (ncpu < 1)
		ncpu = 1;
	tol = 32 + 2 * ncpu * (ncpu > 16 ? 2 * ncpu : 32);
	for (int i = 0; i < 60; i++) {
		files = files_nr();
		if (files >= 0 && files <= cr_files_start + tol)
			break;
		usleep(50000);
	}
	if (files < 0 || files > cr_files_start + tol)
		fail(S_CRACE, "fs/file-nr %ld at the end, %ld at the start (allowed: +%ld)",
		     files, cr_files_start, tol);
	for (int k = 0; k < atomic_load(&cr_nslow) && k < 8; k++)
		printf("# close_race: slow call: thread %d op %d on %d (a %d, b %d) target %d gave %d, %lld ms, begun %lld ms into the run\n",
		       cr_slow[k].h, cr_slow[k].op, cr_slow[k].x, cr_a, b, cr_slow[k].fd,
		       cr_slow[k].ret, cr_slow[k].us / 1000, cr_slow[k].at / 1000);
	for (int k = 0; k < NKIND; k++)
		len += snprintf(kinds + len, sizeof(kinds) - len, "%s%ld %s",
				k ? ", " : "", atomic_load(&cr_kind_n[k]), cr_kind_name[k]);
	printf("# close_race: targets %s; %ld passed over SCM_RIGHTS; %ld events of them checked; second instance re-created %ld times; %ld peers saw EOF, %ld of them not at once (at most %lld ms late); %ld closes not drained in 2 s; longest call %lld ms (op %d; 0: a wait); file-nr %ld -> %ld\n",
	       kinds, atomic_load(&cr_scm_n), atomic_load(&cr_events),
	       atomic_load(&cr_recreate), atomic_load(&cr_eof_n), atomic_load(&cr_eof_late),
	       (long long)atomic_load(&cr_eof_max_us) / 1000,
	       atomic_load(&cr_undrained), (long long)atomic_load(&cr_longest_us) / 1000,
	       atomic_load(&cr_longest_op), cr_files_start, files);
}

/* ================= nest_race (own process) =========================== */

/*
 * A graph of up to NR_I instances over NR_E eventfds.  Two mutators change
 * it under nr_lock, which also guards the model (nr_ie, nr_ee), so every
 * instance ADD has one right answer; the flipper and two waiters run
 * without it, against instances that may be closed under them.  A waiter
 * counts itself in nr_busy[] for the slot it waits on (it holds the file):
 * a close waits for those waits before it calls the instance closed.
 * With 8 instances and chains of at most 4 links no file has more than 8
 * paths of 4 links, so epoll's wakeup-path limits (EINVAL) never apply.
 */
#define NR_I 8		/* instance slots */
#define NR_E 4		/* eventfds: 0 and 1 always readable, 2 and 3 flip */
#define NR_RING 64
#define NR_T_INST 0xD1ULL
#define NR_T_EFD 0xD2ULL
#define NR_MAXNEST 4	/* XPOLL_MAX_NESTS, epoll's EP_MAX_NESTS */

static pthread_mutex_t nr_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int nr_fd[NR_I];
static atomic_int nr_busy[NR_I];
static uint64_t nr_gen[NR_I];
static uint32_t nr_ie[NR_I][NR_I];	/* events of instance j's item in i */
static uint32_t nr_ee[NR_I][NR_E];	/* events of eventfd k's item in i */
static int nr_e[NR_E];
static atomic_ullong nr_seq;
static struct {
	pthread_spinlock_t lock;
	struct { uint64_t gen, seq; } r[NR_RING];
} nr_ring[NR_I];
static atomic_long nr_adds, nr_loops, nr_self, nr_closes, nr_live, nr_late;

static int nr_reaches(int from, int to)
{
	if (from == to)
		return 1;
	for (int c = 0; c < NR_I; c++)
		if (nr_ie[from][c] && nr_reaches(c, to))
			return 1;
	return 0;
}

static int nr_height(int i)
{
	int h = 0;

	for (int c = 0; c < NR_I; c++)
		if (nr_ie[i][c] && nr_height(c) + 1 > h)
			h = nr_height(c) + 1;
	return h;
}

static int nr_up(int i)
{
	int u = 0;

	for (int p = 0; p < NR_I; p++)
		if (nr_ie[p][i] && nr_up(p) + 1 > u)
			u = nr_up(p) + 1;
	return u;
}

/* a level-triggered path down to an always-readable eventfd */
static int nr_ready(int i)
{
	for (int k = 0; k < 2; k++)
		if (nr_ee[i][k] == EPOLLIN)
			return 1;
	for (int c = 0; c < NR_I; c++)
		if (nr_ie[i][c] == EPOLLIN && nr_ready(c))
			return 1;
	return 0;
}

static void nr_check_events(struct epoll_event *ev, int n, uint64_t start)
{
	for (int i = 0; i < n; i++) {
		uint64_t t = ev[i].data.u64, cls = t >> 56, g = t & CR_GEN_MASK;
		unsigned int j = (t >> 48) & 0xff;
		int bad;

		if (cls == NR_T_EFD && j < NR_E)
			continue;
		if (cls != NR_T_INST || j >= NR_I || !g) {
			fail(S_NRACE, "event with unknown tag %#llx", (unsigned long long)t);
			continue;
		}
		pthread_spin_lock(&nr_ring[j].lock);
		bad = nr_ring[j].r[g % NR_RING].gen == g &&
		      nr_ring[j].r[g % NR_RING].seq <= start;
		pthread_spin_unlock(&nr_ring[j].lock);
		if (bad)
			fail(S_NRACE, "event for instance %u (generation %llu) reported by a wait begun after its last close returned",
			     j, (unsigned long long)g);
	}
}

static void nr_expect(const char *what, int r, int want, int also)
{
	if (r != want && !(also && r == also))
		fail(S_NRACE, "%s gave %d, the model says %d", what, r, want);
}

static void nr_open_slot(int i, uint64_t *rs)
{
	int fd = xp_open(), r;

	if (fd < 0) {
		fail(S_NRACE, "open: %s", strerror(errno));
		return;
	}
	nr_gen[i]++;
	memset(nr_ie[i], 0, sizeof(nr_ie[i]));
	memset(nr_ee[i], 0, sizeof(nr_ee[i]));
	for (int c = 0; c < NR_I; c++)
		nr_ie[c][i] = 0;
	atomic_store(&nr_fd[i], fd);
	/* a leaf watches one or two eventfds from the start */
	for (int n = 1 + rnd(rs) % 2; n--;) {
		int k = rnd(rs) % NR_E;
		uint32_t m = rnd(rs) & 1 ? EPOLLIN : EPOLLIN | EPOLLET;

		r = xp_ctl(fd, XPOLL_CTL_ADD, nr_e[k], m, NR_T_EFD << 56 | (uint64_t)k << 48);
		nr_expect("ADD eventfd to a new instance", r, nr_ee[i][k] ? -EEXIST : 0, 0);
		if (!r)
			nr_ee[i][k] = m;
	}
}

static void nr_close_slot(int i)
{
	int fd = atomic_exchange(&nr_fd[i], -1);
	long long t0 = now_us();
	uint64_t seq;

	close(fd);
	op();
	while (atomic_load(&nr_busy[i])) {
		if (now_us() - t0 > 5000000) {
			fail(S_NRACE, "a wait on a closed instance did not return within 5 s");
			break;
		}
		sched_yield();
	}
	seq = atomic_fetch_add(&nr_seq, 1) + 1;
	pthread_spin_lock(&nr_ring[i].lock);
	nr_ring[i].r[nr_gen[i] % NR_RING].gen = nr_gen[i];
	nr_ring[i].r[nr_gen[i] % NR_RING].seq = seq;
	pthread_spin_unlock(&nr_ring[i].lock);
	memset(nr_ie[i], 0, sizeof(nr_ie[i]));
	memset(nr_ee[i], 0, sizeof(nr_ee[i]));
	for (int c = 0; c < NR_I; c++)
		nr_ie[c][i] = 0;
	atomic_fetch_add(&nr_closes, 1);
}

static void nr_add_inst(int i, int j, uint64_t *rs)
{
	uint32_t m = rnd(rs) & 1 ? EPOLLIN : EPOLLIN | EPOLLET;
	int r, want, cycle, lenient = 0;

	if (rnd(rs) % 10 == 0)
		m |= EPOLLEXCLUSIVE;	/* never on an instance: EINVAL */
	cycle = i != j && nr_reaches(j, i);
	if (i == j || (m & EPOLLEXCLUSIVE))
		want = -EINVAL;
	else if (cycle || nr_height(j) + 1 + nr_up(i) > NR_MAXNEST)
		want = -ELOOP;
	else if (nr_ie[i][j])
		want = -EEXIST;
	else
		want = 0;
	r = xp_ctl(atomic_load(&nr_fd[i]), XPOLL_CTL_ADD, atomic_load(&nr_fd[j]), m,
		   NR_T_INST << 56 | (uint64_t)j << 48 | nr_gen[j]);
	/*
	 * epoll 6.1 checks depth only below the new child, and limits wakeup
	 * paths (EINVAL): the reference run holds it to cycles and self adds.
	 */
	if (use_epoll && want != -EINVAL && !cycle && want != -EEXIST)
		lenient = 1;
	if (!lenient)
		nr_expect("ADD of an instance", r, want, 0);
	else if (r && r != -ELOOP && r != -EINVAL)
		fail(S_NRACE, "ADD of an instance gave %d", r);
	if (r == -ELOOP)
		atomic_fetch_add(&nr_loops, 1);
	if (r == -EINVAL && i == j)
		atomic_fetch_add(&nr_self, 1);
	if (!r && (cycle || i == j)) {
		/* keep the model a DAG, whatever the kernel did */
		xp_ctl(atomic_load(&nr_fd[i]), XPOLL_CTL_DEL, atomic_load(&nr_fd[j]), 0, 0);
	} else if (!r) {
		nr_ie[i][j] = m;
		atomic_fetch_add(&nr_adds, 1);
	}
}

static void nr_liveness(int i)
{
	struct epoll_event ev[16];
	uint64_t start = atomic_load(&nr_seq);
	int fd = atomic_load(&nr_fd[i]), n;

	if (!nr_ready(i))
		return;
	atomic_fetch_add(&nr_live, 1);
	n = xp_wait(fd, ev, 16, 0);
	if (n == 0) {
		/* a wakeup that crossed to another CPU's irq_work: give it time */
		n = xp_wait(fd, ev, 16, 200000000);
		if (n > 0)
			atomic_fetch_add(&nr_late, 1);
		else
			fail(S_NRACE, "instance %d, with a level-triggered path to a readable eventfd, reported nothing in 200 ms (wait gave %d)",
			     i, n);
	} else if (n < 0) {
		fail(S_NRACE, "wait gave %d", n);
	}
	if (n > 0)
		nr_check_events(ev, n, start);
}

static void nr_mutate(uint64_t *rs)
{
	int i = rnd(rs) % NR_I, j = rnd(rs) % NR_I, k = rnd(rs) % NR_E, a, r;
	int fi, fj;
	uint32_t m;

	pthread_mutex_lock(&nr_lock);
	fi = atomic_load(&nr_fd[i]);
	fj = atomic_load(&nr_fd[j]);
	a = rnd(rs) % 16;
	if (fi < 0 || (a < 7 && fj < 0)) {
		/* rebuild a torn-down instance */
		nr_open_slot(fi < 0 ? i : j, rs);
		goto out;
	}
	switch (a) {
	case 0: case 1: case 2: case 3: case 4:
		nr_add_inst(i, j, rs);
		break;
	case 5: case 6:
		r = xp_ctl(fi, XPOLL_CTL_DEL, fj, 0, 0);
		nr_expect("DEL of an instance", r, i == j ? -EINVAL : nr_ie[i][j] ? 0 : -ENOENT, 0);
		if (!r)
			nr_ie[i][j] = 0;
		break;
	case 7: case 8:
		m = rnd(rs) & 1 ? EPOLLIN : EPOLLIN | EPOLLET;
		r = xp_ctl(fi, XPOLL_CTL_ADD, nr_e[k], m, NR_T_EFD << 56 | (uint64_t)k << 48);
		nr_expect("ADD of an eventfd", r, nr_ee[i][k] ? -EEXIST : 0, 0);
		if (!r)
			nr_ee[i][k] = m;
		break;
	case 9:
		r = xp_ctl(fi, XPOLL_CTL_DEL, nr_e[k], 0, 0);
		nr_expect("DEL of an eventfd", r, nr_ee[i][k] ? 0 : -ENOENT, 0);
		if (!r)
			nr_ee[i][k] = 0;
		break;
	case 10:
		if (fj < 0 || i == j)
			break;
		m = rnd(rs) & 1 ? EPOLLIN : EPOLLIN | EPOLLET;
		r = xp_ctl(fi, XPOLL_CTL_MOD, fj, m,
			   NR_T_INST << 56 | (uint64_t)j << 48 | nr_gen[j]);
		nr_expect("MOD of an instance", r, nr_ie[i][j] ? 0 : -ENOENT, 0);
		if (!r)
			nr_ie[i][j] = m;
		break;
	case 11: case 12:
		/* tear down, in the middle of the graph as often as not */
		nr_close_slot(i);
		if (rnd(rs) & 1)
			nr_open_slot(i, rs);
		break;
	default:
		nr_liveness(i);
	}
out:
	pthread_mutex_unlock(&nr_lock);
	atomic_fetch_add(&sh->sc[S_NRACE].iters, 1);
}

static void *nr_mutator(void *arg)
{
	uint64_t rs = seed_of(1000 + (int)(intptr_t)arg);

	while (!stopped()) {
		nr_mutate(&rs);
		if (rnd(&rs) % 8 == 0)
			usleep(100);
	}
	return NULL;
}

static void *nr_waiter(void *arg)
{
	static const long long tmos[] = { 0, 1000000, 5000000, 20000000 };
	uint64_t rs = seed_of(1010 + (int)(intptr_t)arg);
	struct epoll_event ev[16];

	while (!stopped()) {
		int i = rnd(&rs) % NR_I, fd, n;
		uint64_t start;

		atomic_fetch_add(&nr_busy[i], 1);
		fd = atomic_load(&nr_fd[i]);
		if (fd >= 0) {
			start = atomic_load(&nr_seq);
			n = xp_wait(fd, ev, 16, tmos[rnd(&rs) % 4]);
			/* closed under us: EBADF, and the slot says so */
			if (n < 0 && !(n == -EBADF && atomic_load(&nr_fd[i]) != fd))
				fail(S_NRACE, "wait on instance %d gave %d", i, n);
			if (n > 0)
				nr_check_events(ev, n, start);
		}
		atomic_fetch_sub(&nr_busy[i], 1);
	}
	return NULL;
}

static void *nr_flipper(void *arg)
{
	uint64_t rs = seed_of(1020);

	(void)arg;
	while (!stopped()) {
		int k = rnd(&rs) % NR_E;

		/* 0 and 1 are only ever written: they stay readable */
		if (k < 2 || rnd(&rs) & 1)
			efd_write(nr_e[k]);
		else
			efd_read(nr_e[k]);
		if (rnd(&rs) % 8 == 0)
			usleep(100);
	}
	return NULL;
}

static void nest_race_proc(void)
{
	uint64_t rs = seed_of(1030);
	pthread_t th[5];
	int i;

	for (i = 0; i < NR_E; i++)
		nr_e[i] = new_efd(i < 2);
	for (i = 0; i < NR_I; i++) {
		pthread_spin_init(&nr_ring[i].lock, PTHREAD_PROCESS_PRIVATE);
		atomic_store(&nr_fd[i], -1);
		nr_open_slot(i, &rs);
	}
	pthread_create(&th[0], NULL, nr_mutator, (void *)0);
	pthread_create(&th[1], NULL, nr_mutator, (void *)1);
	pthread_create(&th[2], NULL, nr_waiter, (void *)0);
	pthread_create(&th[3], NULL, nr_waiter, (void *)1);
	pthread_create(&th[4], NULL, nr_flipper, NULL);
	for (i = 0; i < 5; i++)
		pthread_join(th[i], NULL);
	printf("# nest_race: %ld instance ADDs, %ld ELOOP, %ld self-add EINVAL, %ld instances closed in the graph, %ld liveness checks (%ld needed the 200 ms wait)\n",
	       atomic_load(&nr_adds), atomic_load(&nr_loops), atomic_load(&nr_self),
	       atomic_load(&nr_closes), atomic_load(&nr_live), atomic_load(&nr_late));
	for (i = 0; i < NR_I; i++)
		if (atomic_load(&nr_fd[i]) >= 0)
			close(atomic_load(&nr_fd[i]));
}

/* ================= ring (own processes, as uid 65534 and 65533) ======= */

/*
 * The ready ring (XPOLL_FEAT_RING, uapi/linux/xpoll.h).  ring_proc (root)
 * runs a bystander canary and forks two processes that drop to other
 * users:
 *
 * uid 65534, three ring instances at once:
 *  - A, checked: RG_N eventfd registrations and RG_U user events churned
 *    by ADD/MOD/DEL under a model (tags with generations, as ctl_checked;
 *    every errno exact; ADD/MOD without EPOLLET or with EPOLLWAKEUP
 *    EINVAL), one armed ET item that is never removed (liveness: every
 *    write of it is harvested within 10 s), generators writing, reading
 *    and triggering; harvesters (compare-and-swap on head, as the uapi's
 *    consumer, overflow recovery included) and waiters (XPOLL_IOC_WAIT
 *    with events 0, poll(), an epoll set and an xpoll instance holding
 *    A) that harvest after their wait.  Every harvested event: an index below entries, tail
 *    never more than entries past head, bits inside the interest (| ERR |
 *    HUP), a known tag whose DEL or MOD did not return before the harvest
 *    began (data 0, a slot freed under a harvest, is counted).  A thread
 *    forks: the child harvests from the shared mapping with the same
 *    checks (tags against the shared maximum generation only), unmaps
 *    or maps again, and exits;
 *  - B, scribbled: the same kinds of targets, churn, generators, a
 *    bounds-checking harvester and waiters, while a scribbler writes
 *    random bytes anywhere in B's mapping (head, tail, overflow, slots,
 *    indices) and another thread replaces the mapping (MAP_FIXED) or maps
 *    and unmaps a second view: only the kernel's safety and documented
 *    errnos are checked there;
 *  - C, a lifecycle loop: a ring instance of random entries (1 .. 256)
 *    set up, mapped and fed, then closed while mapped (events still
 *    appended: the mapping holds the instance) and unmapped, or unmapped
 *    and mapped again, or its targets closed while mapped (their ready
 *    bits withdrawn at once), or closed while another thread waits on it,
 *    or shared with a fork child that harvests it after the parent
 *    closed and unmapped its own.
 * uid 65533: RLIMIT_MEMLOCK lowered to RG_LOCK_PAGES; rings set up until
 * ENOMEM, never charged past the limit and never refused below it; all
 * released, the whole limit is available again.
 * The canary (root): the worst lateness of a 1 ms sleep during the run.
 */
#define RG_N 10			/* eventfd registrations on A */
#define RG_U 4			/* user events on A */
#define RG_LIVE (RG_N + RG_U)	/* the liveness item's tag slot */
#define RG_NT (RG_LIVE + 1)
#define RG_ENTRIES 32
#define RG_LOCK_PAGES 48

struct rg_ring {
	int fd;
	unsigned int entries;
	size_t size;
	uint32_t slots_off, ring_off;
	void *map;
	struct xpoll_ring_hdr *hdr;
	struct xpoll_ring_slot *slots;
	uint32_t *idx;
};

/* shared by the uid 65534 process and its fork children */
struct rg_shared {
	atomic_ullong maxgen[RG_NT];
	atomic_long live_harvests, harvests, events, torn, overflows,
		    child_harvests, scribbles, remaps, lc_rounds, lc_after_close,
		    lc_withdrawn, lc_children, enomem, memlock_rounds, waits,
		    refused;
	atomic_llong canary_worst_us, live_worst_us;
};

static struct rg_shared *rgs;
static struct slot rg_slot[RG_NT];	/* ctl_checked's struct, its check */
static atomic_ullong rg_seq;
static struct rg_ring rgA, rgB;
static int rg_efd[RG_NT], rgB_efd[8];
/*
 * Held by a fork and by a lifecycle round for its whole length: a fork
 * child would hold the round's targets open, and their close must be the
 * last one.
 */
static pthread_mutex_t rg_fork_lock = PTHREAD_MUTEX_INITIALIZER;

static int rg_setup(struct rg_ring *r, int fd, unsigned int entries)
{
	struct xpoll_ring_setup rs = { .entries = entries };

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	op();
	if (ioctl(fd, XPOLL_IOC_RING_SETUP, &rs))
		return -errno;
	r->entries = entries;
	r->size = rs.mmap_size;
	r->slots_off = rs.slots_off;
	r->ring_off = rs.ring_off;
	r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->map == MAP_FAILED)
		return -errno;
	r->hdr = r->map;
	r->slots = (void *)((char *)r->map + r->slots_off);
	r->idx = (void *)((char *)r->map + r->ring_off);
	return 0;
}

static int rg_ctl(int xfd, int o, int fd, uint32_t ev, uint64_t data,
		  uint32_t flags, uint64_t key)
{
	struct xpoll_ctl c = { .op = o, .fd = fd, .events = ev, .data = data,
			       .flags = flags, .key = key };

	op();
	return ioctl(xfd, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

/* A ring instance's wait: events 0; the number of indices, or -errno. */
static int rg_wait(int xfd, int max, long long ns)
{
	struct xpoll_wait w = { .maxevents = max, .timeout_ns = ns };
	int n;

	op();
	n = ioctl(xfd, XPOLL_IOC_WAIT, &w);
	return n < 0 ? -errno : n;
}

/*
 * The uapi's consumer for several threads (compare-and-swap on head),
 * over a mapping whose words may be garbage (B): positions and indices
 * are bounded before use.  @checked: report a bad index or a tail more
 * than entries past head (A, where only the kernel writes them).
 */
static int rg_harvest(struct rg_ring *r, struct epoll_event *ev, int max,
		      int checked)
{
	struct xpoll_ring_hdr *h = r->hdr;
	uint32_t mask = r->entries - 1, head, tail, idx, bits, i;
	int n = 0, ovf, spins = 0;

	ovf = __atomic_exchange_n(&h->overflow, 0, __ATOMIC_ACQ_REL);
	tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
	head = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
	if (checked && (int32_t)(tail - head) > (int32_t)r->entries)
		fail(S_RING, "tail %u is %u past head %u, more than %u entries",
		     tail, tail - head, head, r->entries);
	while (n < max && spins++ < 4 * (int)r->entries + 64) {
		if ((int32_t)(tail - head) <= 0) {
			tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
			if ((int32_t)(tail - head) <= 0)
				break;
		}
		idx = __atomic_load_n(&r->idx[head & mask], __ATOMIC_RELAXED);
		if (!__atomic_compare_exchange_n(&h->head, &head, head + 1, 0,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		head++;
		if (idx >= r->entries) {
			if (checked)
				fail(S_RING, "ring[%u] holds index %u of %u entries",
				     (head - 1) & mask, idx, r->entries);
			continue;
		}
		bits = __atomic_exchange_n(&r->slots[idx].ready, 0, __ATOMIC_ACQ_REL);
		if (!bits)
			continue;
		ev[n].events = bits;
		ev[n++].data.u64 = __atomic_load_n(&r->slots[idx].data, __ATOMIC_RELAXED);
	}
	if (!ovf)
		return n;
	if (checked)
		atomic_fetch_add(&rgs->overflows, 1);
	for (i = 0; i < r->entries; i++) {
		if (n == max) {
			__atomic_store_n(&h->overflow, 1, __ATOMIC_RELEASE);
			break;
		}
		if (!__atomic_load_n(&r->slots[i].ready, __ATOMIC_RELAXED))
			continue;
		bits = __atomic_exchange_n(&r->slots[i].ready, 0, __ATOMIC_ACQ_REL);
		if (!bits)
			continue;
		ev[n].events = bits;
		ev[n++].data.u64 = __atomic_load_n(&r->slots[i].data, __ATOMIC_RELAXED);
	}
	return n;
}

static uint64_t rg_tag(int s, uint64_t g)
{
	return (uint64_t)s << GEN_BITS | g;
}

/*
 * A's events: @start is rg_seq when the harvest began; @child: a fork
 * child, whose copy of the retire records is old (tags are checked
 * against the shared maximum generation only).
 */
static void rg_check(struct epoll_event *ev, int n, uint64_t start, int child)
{
	for (int i = 0; i < n; i++) {
		uint64_t t = ev[i].data.u64, g = t & GEN_MASK, s = t >> GEN_BITS;
		struct slot *sl;
		int bad;

		atomic_fetch_add(&rgs->events, 1);
		if (!t) {
			/* the slot was freed between the exchange and the read */
			atomic_fetch_add(&rgs->torn, 1);
			continue;
		}
		if (s >= RG_NT || !g || g > atomic_load(&rgs->maxgen[s])) {
			fail(S_RING, "harvested unknown tag %#llx (bits %#x)",
			     (unsigned long long)t, ev[i].events);
			continue;
		}
		if (ev[i].events & ~(uint32_t)(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP))
			fail(S_RING, "harvested bits %#x for tag %#llx: not in its interest",
			     ev[i].events, (unsigned long long)t);
		if (s == RG_LIVE) {
			atomic_fetch_add(&rgs->live_harvests, 1);
			continue;
		}
		if (child)
			continue;
		sl = &rg_slot[s];
		pthread_spin_lock(&sl->ring_lock);
		bad = sl->ring[g % RING].gen == g && sl->ring[g % RING].seq <= start;
		pthread_spin_unlock(&sl->ring_lock);
		if (bad)
			fail(S_RING, "tag of slot %llu gen %llu harvested by a harvest begun after its DEL/MOD returned",
			     (unsigned long long)s, (unsigned long long)g);
	}
}

static void rg_retire(struct slot *sl, uint64_t g)
{
	uint64_t seq = atomic_fetch_add(&rg_seq, 1) + 1;

	pthread_spin_lock(&sl->ring_lock);
	sl->ring[g % RING].gen = g;
	sl->ring[g % RING].seq = seq;
	pthread_spin_unlock(&sl->ring_lock);
}

static void rg_harvest_checked(void)
{
	struct epoll_event ev[RG_ENTRIES * 2];
	uint64_t start = atomic_load(&rg_seq);
	int n = rg_harvest(&rgA, ev, RG_ENTRIES * 2, 1);

	rg_check(ev, n, start, 0);
	atomic_fetch_add(&rgs->harvests, 1);
	atomic_fetch_add(&sh->sc[S_RING].iters, 1);
}

/* A: ADD/MOD/DEL of eventfd registrations (arg 0, 1) or user events (2). */
static void *rg_ctl_thread(void *arg)
{
	int user = (int)(intptr_t)arg == 2;
	uint64_t rs = seed_of(1100 + (int)(intptr_t)arg);
	static const uint32_t m[] = {
		EPOLLIN | EPOLLET, EPOLLIN | EPOLLET | EPOLLONESHOT,
		EPOLLIN | EPOLLOUT | EPOLLET, EPOLLIN | EPOLLET | EPOLLEXCLUSIVE,
	};

	while (!stopped()) {
		int s = user ? RG_N + rnd(&rs) % RG_U : rnd(&rs) % RG_N, r;
		struct slot *sl = &rg_slot[s];
		uint32_t ev = m[rnd(&rs) % 4];
		int fd = user ? -1 : rg_efd[s];
		uint32_t fl = user ? XPOLL_CTL_USER : 0;
		uint64_t key = user ? 0x1000 + s : 0, g;

		if (user && (ev & EPOLLOUT))
			ev &= ~EPOLLOUT;
		pthread_mutex_lock(&sl->ctl_lock);
		if (rnd(&rs) % 10 == 0) {
			/* refused on a ring: no EPOLLET, or EPOLLWAKEUP */
			uint32_t bad = rnd(&rs) & 1 ? EPOLLIN : EPOLLIN | EPOLLET | EPOLLWAKEUP;
			int o = sl->registered ? XPOLL_CTL_MOD : XPOLL_CTL_ADD;

			r = rg_ctl(rgA.fd, o, fd, bad, 1, fl, key);
			atomic_fetch_add(&rgs->refused, 1);
			if (r != -EINVAL)
				fail(S_RING, "op %d events %#x on a ring instance gave %d, not -EINVAL",
				     o, bad, r);
		} else if (!sl->registered) {
			if (ev & EPOLLEXCLUSIVE)
				ev &= ~EPOLLOUT;
			g = atomic_fetch_add(&rgs->maxgen[s], 1) + 1;
			r = rg_ctl(rgA.fd, XPOLL_CTL_ADD, fd, ev, rg_tag(s, g), fl, key);
			if (r) {
				fail(S_RING, "ADD slot %d gave %d", s, r);
			} else {
				sl->registered = 1;
				sl->gen = g;
			}
		} else if (rnd(&rs) & 1) {
			r = rg_ctl(rgA.fd, XPOLL_CTL_DEL, fd, 0, 0, fl, key);
			if (r) {
				fail(S_RING, "DEL slot %d gave %d", s, r);
			} else {
				rg_retire(sl, sl->gen);
				sl->registered = 0;
			}
		} else {
			ev &= ~EPOLLEXCLUSIVE;
			g = atomic_fetch_add(&rgs->maxgen[s], 1) + 1;
			r = rg_ctl(rgA.fd, XPOLL_CTL_MOD, fd, ev, rg_tag(s, g), fl, key);
			/* MOD of an EPOLLEXCLUSIVE item: EINVAL, as epoll */
			if (r && r != -EINVAL) {
				fail(S_RING, "MOD slot %d gave %d", s, r);
			} else if (!r) {
				rg_retire(sl, sl->gen);
				sl->gen = g;
			}
		}
		pthread_mutex_unlock(&sl->ctl_lock);
		/* the ring's threads yield: the other scenarios share the CPUs */
		usleep(50 + rnd(&rs) % 250);
	}
	return NULL;
}

/* A and B: eventfd writes and reads, user event triggers. */
static void *rg_gen_thread(void *arg)
{
	int b = (int)(intptr_t)arg;
	uint64_t rs = seed_of(1200 + b);

	while (!stopped()) {
		int s = rnd(&rs) % (b ? 8 : RG_N + RG_U);

		if (s >= RG_N || (b && s >= 6)) {
			struct xpoll_ctl c = {
				.op = rnd(&rs) % 4 ? XPOLL_CTL_TRIGGER : XPOLL_CTL_CLEAR,
				.fd = -1, .events = EPOLLIN,
				.flags = XPOLL_CTL_USER, .key = 0x1000 + s,
			};
			int r;

			op();
			r = ioctl(b ? rgB.fd : rgA.fd, XPOLL_IOC_CTL, &c) ? -errno : 0;
			if (r && r != -ENOENT)
				fail(S_RING, "TRIGGER/CLEAR gave %d", r);
		} else if (rnd(&rs) % 3) {
			efd_write(b ? rgB_efd[s] : rg_efd[s]);
		} else {
			efd_read(b ? rgB_efd[s] : rg_efd[s]);
		}
		usleep(50 + rnd(&rs) % 250);
	}
	return NULL;
}

/*
 * A: harvesters (0, 1) and waiters (2: WAIT, 3: poll(), 4: an epoll set,
 * 5: an xpoll instance holding A, level-triggered).
 */
static void *rg_harvest_thread(void *arg)
{
	int kind = (int)(intptr_t)arg, epfd = -1, n;
	uint64_t rs = seed_of(1300 + kind);

	if (kind == 4) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = 1 };

		epfd = epoll_create1(EPOLL_CLOEXEC);
		if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, rgA.fd, &e))
			fail(S_RING, "a ring instance in an epoll set: %s", strerror(errno));
	} else if (kind == 5) {
		epfd = xp_open();
		n = epfd < 0 ? -EBADF : rg_ctl(epfd, XPOLL_CTL_ADD, rgA.fd, EPOLLIN, 0x5151, 0, 0);
		if (n)
			fail(S_RING, "a ring instance in an xpoll instance: %d", n);
	}
	while (!stopped()) {
		if (kind == 2) {
			n = rg_wait(rgA.fd, 1 + rnd(&rs) % 16, 20000000);
			atomic_fetch_add(&rgs->waits, 1);
			if (n < 0 && n != -EINTR)
				fail(S_RING, "WAIT on the ring gave %d", n);
		} else if (kind == 3) {
			struct pollfd p = { .fd = rgA.fd, .events = POLLIN };

			op();
			if (poll(&p, 1, 20) < 0)
				fail(S_RING, "poll of the ring: %s", strerror(errno));
			atomic_fetch_add(&rgs->waits, 1);
		} else if (kind == 4) {
			struct epoll_event e;

			op();
			if (epoll_wait(epfd, &e, 1, 20) < 0 && errno != EINTR)
				fail(S_RING, "epoll_wait of the ring: %s", strerror(errno));
			atomic_fetch_add(&rgs->waits, 1);
		} else if (kind == 5) {
			struct epoll_event e;

			n = xp_wait(epfd, &e, 1, 20000000);
			if (n < 0 && n != -EINTR)
				fail(S_RING, "WAIT of an xpoll instance holding the ring: %d", n);
			if (n > 0 && (e.data.u64 != 0x5151 || !(e.events & EPOLLIN)))
				fail(S_RING, "an xpoll instance holding the ring reported %#x data %#llx",
				     e.events, (unsigned long long)e.data.u64);
			atomic_fetch_add(&rgs->waits, 1);
		} else {
			usleep(100 + rnd(&rs) % 500);
		}
		rg_harvest_checked();
	}
	if (epfd >= 0)
		close(epfd);
	return NULL;
}

/* A: every write of the live item is harvested within 10 s. */
static void *rg_live_thread(void *arg)
{
	(void)arg;
	while (!stopped()) {
		long before = atomic_load(&rgs->live_harvests);
		long long t0 = now_us(), us;

		efd_write(rg_efd[RG_LIVE]);
		while (atomic_load(&rgs->live_harvests) == before &&
		       now_us() - t0 < 10000000 && !stopped())
			usleep(1000);
		us = now_us() - t0;
		if (atomic_load(&rgs->live_harvests) == before && !stopped())
			fail(S_RING, "an armed EPOLLET item's event was not harvested in 10 s");
		if (us > atomic_load(&rgs->live_worst_us))
			atomic_store(&rgs->live_worst_us, us);
		efd_read(rg_efd[RG_LIVE]);
		usleep(2000);
	}
	return NULL;
}

/* A: fork children harvest the shared ring, unmap or map it again, exit. */
static void *rg_fork_thread(void *arg)
{
	uint64_t rs = seed_of(1400);

	(void)arg;
	while (!stopped()) {
		pid_t pid;
		int st;

		pthread_mutex_lock(&rg_fork_lock);
		pid = fork();
		if (pid == 0) {
			struct epoll_event ev[RG_ENTRIES * 2];
			int how = rnd(&rs) % 3;

			for (int i = 0; i < 20; i++) {
				int n = rg_harvest(&rgA, ev, RG_ENTRIES * 2, 1);

				rg_check(ev, n, 0, 1);
				atomic_fetch_add(&rgs->child_harvests, 1);
				usleep(200);
			}
			if (how == 1) {
				munmap(rgA.map, rgA.size);
			} else if (how == 2) {
				void *m = mmap(NULL, rgA.size, PROT_READ | PROT_WRITE,
					       MAP_SHARED, rgA.fd, 0);

				if (m == MAP_FAILED ||
				    ((struct xpoll_ring_hdr *)m)->entries != RG_ENTRIES)
					fail(S_RING, "a fork child could not map the ring again");
				close(rgA.fd);	/* the parent's stays open */
			}
			_exit(0);
		}
		pthread_mutex_unlock(&rg_fork_lock);
		if (pid < 0) {
			fail(S_RING, "fork: %s", strerror(errno));
			break;
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			fail(S_RING, "fork child ended with status %#x", st);
		usleep(20000 + rnd(&rs) % 30000);
	}
	return NULL;
}

/* B: churn with every errno documented. */
static void *rgB_ctl_thread(void *arg)
{
	uint64_t rs = seed_of(1500);

	(void)arg;
	while (!stopped()) {
		int s = rnd(&rs) % 8, o = 1 + rnd(&rs) % 3, r;
		uint32_t ev = EPOLLIN | EPOLLET | (rnd(&rs) & 1 ? EPOLLONESHOT : 0);

		if (s >= 6)
			r = rg_ctl(rgB.fd, o, -1, ev, rnd(&rs), XPOLL_CTL_USER, 0x1000 + s);
		else
			r = rg_ctl(rgB.fd, o, rgB_efd[s], ev, rnd(&rs), 0, 0);
		if (r && r != -EEXIST && r != -ENOENT && r != -ENOSPC)
			fail(S_RING, "B: op %d gave %d", o, r);
		usleep(50 + rnd(&rs) % 250);
	}
	return NULL;
}

/* B: a harvester that must not crash (0), a waiter that harvests (1). */
static void *rgB_harvest_thread(void *arg)
{
	struct epoll_event ev[64];
	int w = (int)(intptr_t)arg;

	while (!stopped()) {
		if (w) {
			int n = rg_wait(rgB.fd, 8, 2000000);

			if (n < 0 && n != -EINTR)
				fail(S_RING, "B: WAIT gave %d", n);
		}
		rg_harvest(&rgB, ev, 64, 0);
		if (!w)
			usleep(200);
	}
	return NULL;
}

/* B: random bytes anywhere in the mapping. */
static void *rgB_scribble_thread(void *arg)
{
	uint64_t rs = seed_of(1600);

	(void)arg;
	while (!stopped()) {
		size_t off = rnd(&rs) % (rgB.size / 4) * 4;
		uint32_t v = (uint32_t)rnd(&rs);

		switch (rnd(&rs) % 6) {
		case 0:	/* head: near the tail, or anywhere */
			off = 0;
			if (rnd(&rs) & 1)
				v = __atomic_load_n(&rgB.hdr->tail, __ATOMIC_RELAXED) -
				    (uint32_t)(rnd(&rs) % (2 * RG_ENTRIES + 2));
			break;
		case 1:
			off = offsetof(struct xpoll_ring_hdr, overflow);
			v &= 1;
			break;
		case 2:	/* a slot's ready bits */
			off = rgB.slots_off + rnd(&rs) % RG_ENTRIES *
			      sizeof(struct xpoll_ring_slot);
			v = rnd(&rs) & 1 ? 0 : v;
			break;
		default:
			break;
		}
		__atomic_store_n((uint32_t *)((char *)rgB.map + off), v, __ATOMIC_RELAXED);
		atomic_fetch_add(&rgs->scribbles, 1);
		usleep(20 + rnd(&rs) % 100);
	}
	return NULL;
}

/* B: the mapping replaced under everyone (MAP_FIXED), a second view. */
static void *rgB_remap_thread(void *arg)
{
	uint64_t rs = seed_of(1700);

	(void)arg;
	while (!stopped()) {
		void *m;

		if (rnd(&rs) & 1) {
			m = mmap(rgB.map, rgB.size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED, rgB.fd, 0);
			if (m != rgB.map)
				fail(S_RING, "B: mmap MAP_FIXED over the ring: %s",
				     strerror(errno));
		} else {
			m = mmap(NULL, rgB.size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 rgB.fd, 0);
			/* (its words are the scribbler's: nothing to check) */
			if (m == MAP_FAILED)
				fail(S_RING, "B: a second mapping: %s", strerror(errno));
			else
				munmap(m, rgB.size);
		}
		atomic_fetch_add(&rgs->remaps, 1);
		usleep(1000 + rnd(&rs) % 5000);
	}
	return NULL;
}

/* C: a waiter that the lifecycle loop closes the instance under. */
struct rg_cw { int fd; pthread_barrier_t bar; };

static void *rg_cwaiter(void *arg)
{
	struct rg_cw *cw = arg;
	int fd = cw->fd, n;

	pthread_barrier_wait(&cw->bar);
	n = rg_wait(fd, 4, 100000000);
	/* closed before we got in: EBADF; number reused: ENOTTY or EINVAL */
	if (n < 0 && n != -EBADF && n != -ENOTTY && n != -EINVAL && n != -EINTR)
		fail(S_RING, "C: WAIT on a closing ring instance gave %d", n);
	return NULL;
}

/* Waits up to 1 s for the ring to show an index or ready bits. */
static int rg_appended(struct rg_ring *r)
{
	for (int i = 0; i < 1000; i++) {
		if (__atomic_load_n(&r->hdr->tail, __ATOMIC_ACQUIRE) !=
		    __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED))
			return 1;
		usleep(1000);
	}
	return 0;
}

static void rg_lifecycle_round(uint64_t *rs)
{
	struct rg_ring c;
	unsigned int entries = 1u << (rnd(rs) % 9);
	int x = xp_open(), e[4], ne = entries < 4 ? (int)entries : 4, r, how;
	struct epoll_event ev[8];

	if (x < 0) {
		fail(S_RING, "C: open: %s", strerror(errno));
		return;
	}
	r = rg_setup(&c, x, entries);
	if (r) {
		if (r != -ENOMEM)
			fail(S_RING, "C: setup of %u entries: %d", entries, r);
		else
			atomic_fetch_add(&rgs->enomem, 1);
		if (c.map && c.map != MAP_FAILED)
			munmap(c.map, c.size);
		close(x);
		return;
	}
	for (int i = 0; i < ne; i++) {
		e[i] = new_efd(i & 1);
		if (rg_ctl(x, XPOLL_CTL_ADD, e[i], EPOLLIN | EPOLLET, 0xC000 + i, 0, 0))
			fail(S_RING, "C: ADD %d of %u entries failed", i, entries);
	}
	/* one more than entries: ENOSPC */
	if (ne == (int)entries) {
		int extra = new_efd(0);

		r = rg_ctl(x, XPOLL_CTL_ADD, extra, EPOLLIN | EPOLLET, 0xCFFF, 0, 0);
		if (r != -ENOSPC)
			fail(S_RING, "C: ADD past %u entries gave %d, not -ENOSPC", entries, r);
		close(extra);
	}
	/* nothing in the ring before the step under test */
	for (int i = 0; i < 3; i++)
		rg_harvest(&c, ev, 8, 1);
	how = rnd(rs) % 5;
	switch (how) {
	case 0:	/* closed while mapped: the mapping holds the instance */
		close(x);
		efd_write(e[0]);
		if (!rg_appended(&c))
			fail(S_RING, "C: no index appended after the instance's fd was closed while mapped");
		else
			atomic_fetch_add(&rgs->lc_after_close, 1);
		rg_harvest(&c, ev, 8, 1);
		munmap(c.map, c.size);
		break;
	case 1:	/* unmapped, then mapped again */
		munmap(c.map, c.size);
		efd_write(e[0]);
		c.map = mmap(NULL, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, x, 0);
		if (c.map == MAP_FAILED) {
			fail(S_RING, "C: map again: %s", strerror(errno));
			close(x);
			break;
		}
		c.hdr = c.map;
		c.slots = (void *)((char *)c.map + c.slots_off);
		c.idx = (void *)((char *)c.map + c.ring_off);
		if (!rg_appended(&c))
			fail(S_RING, "C: an event while unmapped is not in the ring mapped again");
		close(x);
		munmap(c.map, c.size);
		break;
	case 2:	/* targets closed while their events are pending */
		for (int i = 0; i < ne; i++)
			efd_write(e[i]);
		for (int i = 0; i < ne; i++) {
			close(e[i]);
			e[i] = -1;
		}
		for (unsigned int i = 0; i < entries; i++)
			if (__atomic_load_n(&c.slots[i].ready, __ATOMIC_ACQUIRE))
				fail(S_RING, "C: slot %u still holds ready bits %#x after its file's close returned",
				     i, c.slots[i].ready);
		atomic_fetch_add(&rgs->lc_withdrawn, 1);
		rg_harvest(&c, ev, 8, 1);
		close(x);
		munmap(c.map, c.size);
		break;
	case 3: {	/* closed under a waiter */
		struct rg_cw cw = { .fd = x };
		pthread_t t;

		pthread_barrier_init(&cw.bar, NULL, 2);
		pthread_create(&t, NULL, rg_cwaiter, &cw);
		pthread_barrier_wait(&cw.bar);
		usleep(rnd(rs) % 2000);
		close(x);
		efd_write(e[0]);
		pthread_join(t, NULL);
		pthread_barrier_destroy(&cw.bar);
		munmap(c.map, c.size);
		break;
	}
	default: {	/* a fork child harvests after the parent let go */
		int p[2], st;
		pid_t pid;
		char b = 0;

		if (pipe2(p, O_CLOEXEC)) {
			close(x);
			munmap(c.map, c.size);
			break;
		}
		pid = fork();
		if (pid == 0) {
			close(p[1]);
			if (read(p[0], &b, 1) != 1)
				_exit(3);
			/* the parent closed and unmapped: ours still works */
			if (!rg_appended(&c))
				_exit(4);
			rg_harvest(&c, ev, 8, 1);
			_exit(0);
		}
		close(p[0]);
		close(x);
		munmap(c.map, c.size);
		efd_write(e[0]);
		if (write(p[1], &b, 1) != 1)
			fail(S_RING, "C: pipe write");
		close(p[1]);
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			fail(S_RING, "C: fork child: status %#x (4: no event in the child's mapping after the parent let go)",
			     pid < 0 ? -1 : st);
		else
			atomic_fetch_add(&rgs->lc_children, 1);
		break;
	}
	}
	for (int i = 0; i < ne; i++)
		if (e[i] >= 0)
			close(e[i]);
	atomic_fetch_add(&rgs->lc_rounds, 1);
}

static void *rg_lifecycle_thread(void *arg)
{
	uint64_t rs = seed_of(1800);

	(void)arg;
	while (!stopped()) {
		pthread_mutex_lock(&rg_fork_lock);
		rg_lifecycle_round(&rs);
		pthread_mutex_unlock(&rg_fork_lock);
		usleep(rnd(&rs) % 3000);
	}
	return NULL;
}

static int rg_drop_to(uid_t uid)
{
	if (geteuid() != 0)
		return 0;	/* not root: as we are */
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return -1;
	/* both are reset by the change of credentials */
	prctl(PR_SET_DUMPABLE, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

/*
 * rg_main's threads start their work once all exist (see wait_go): one
 * that ran at once would starve the thread still creating the others.
 */
static atomic_int rg_go;

struct rg_start {
	void *(*fn)(void *);
	void *arg;
};

static void *rg_started(void *p)
{
	struct rg_start st = *(struct rg_start *)p;

	free(p);
	while (!atomic_load(&rg_go))
		usleep(2000);
	return st.fn(st.arg);
}

static void rg_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	struct rg_start *st = malloc(sizeof(*st));

	if (!st) {
		fail(S_RING, "malloc failed");
		exit(2);
	}
	st->fn = fn;
	st->arg = arg;
	if (pthread_create(t, NULL, rg_started, st)) {
		fail(S_RING, "pthread_create failed");
		exit(2);
	}
}

/* uid 65534: rings A, B, C. */
static void rg_main(void)
{
	pthread_t th[24];
	int nth = 0, x, r;

	if (rg_drop_to(65534)) {
		fail(S_RING, "cannot become uid 65534: %s", strerror(errno));
		return;
	}
	for (int s = 0; s < RG_NT; s++) {
		pthread_mutex_init(&rg_slot[s].ctl_lock, NULL);
		pthread_spin_init(&rg_slot[s].ring_lock, PTHREAD_PROCESS_PRIVATE);
		rg_efd[s] = new_efd(0);
	}
	for (int s = 0; s < 8; s++)
		rgB_efd[s] = new_efd(s & 1);
	x = xp_open();
	if (x < 0 || (r = rg_setup(&rgA, x, RG_ENTRIES))) {
		fail(S_RING, "ring A: %s", x < 0 ? strerror(errno) : strerror(-r));
		return;
	}
	x = xp_open();
	if (x < 0 || (r = rg_setup(&rgB, x, RG_ENTRIES))) {
		fail(S_RING, "ring B: %s", x < 0 ? strerror(errno) : strerror(-r));
		return;
	}
	/* the live item: armed, ET, never removed */
	atomic_store(&rgs->maxgen[RG_LIVE], 1);
	if (rg_ctl(rgA.fd, XPOLL_CTL_ADD, rg_efd[RG_LIVE], EPOLLIN | EPOLLET,
		   rg_tag(RG_LIVE, 1), 0, 0))
		fail(S_RING, "ADD of the live item failed");
	rg_thread(&th[nth++], rg_lifecycle_thread, NULL);
	rg_thread(&th[nth++], rgB_remap_thread, NULL);
	rg_thread(&th[nth++], rgB_scribble_thread, NULL);
	rg_thread(&th[nth++], rgB_harvest_thread, (void *)1);
	rg_thread(&th[nth++], rgB_ctl_thread, NULL);
	rg_thread(&th[nth++], rg_gen_thread, (void *)1);
	rg_thread(&th[nth++], rg_live_thread, NULL);
	rg_thread(&th[nth++], rg_fork_thread, NULL);
	rg_thread(&th[nth++], rg_ctl_thread, (void *)0);
	rg_thread(&th[nth++], rg_ctl_thread, (void *)2);
	rg_thread(&th[nth++], rg_gen_thread, (void *)0);
	for (intptr_t k = 0; k < 6; k++)
		if (k != 1)
			rg_thread(&th[nth++], rg_harvest_thread, (void *)k);
	atomic_store(&rg_go, 1);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	munmap(rgA.map, rgA.size);
	munmap(rgB.map, rgB.size);
	close(rgA.fd);
	close(rgB.fd);
}

/*
 * uid 65533, RLIMIT_MEMLOCK RG_LOCK_PAGES pages: rings are charged by
 * their pages, never past the limit, never refused below it, and given
 * back at the release (mapped ones at the munmap).
 */
static void rg_memlock(void)
{
	struct rlimit rl = { RG_LOCK_PAGES * 4096UL, RG_LOCK_PAGES * 4096UL };
	uint64_t rs = seed_of(1900);
	long page = sysconf(_SC_PAGESIZE);

	/* the limit first, while root may raise it too */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) || rg_drop_to(65533)) {
		fail(S_RING, "memlock: uid 65533 / RLIMIT_MEMLOCK: %s", strerror(errno));
		return;
	}
	if (getuid() != 65533) {
		printf("# ring: memlock check skipped (not root)\n");
		return;
	}
	while (!stopped()) {
		int fds[32], n = 0;
		struct rg_ring rr[32];
		long pages = 0;

		for (;;) {
			/* up to 8192 entries: 41 pages */
			unsigned int entries = 1u << (rnd(&rs) % 14);
			struct xpoll_ring_setup rs2 = { .entries = entries };
			long need = (long)((sizeof(struct xpoll_ring_hdr) +
					    entries * 20 + page - 1) / page);
			int x = xp_open(), r;

			if (x < 0 || n == 32) {
				if (x >= 0)
					close(x);
				break;
			}
			usleep(200);
			op();
			r = ioctl(x, XPOLL_IOC_RING_SETUP, &rs2) ? -errno : 0;
			if (!r && (long)(rs2.mmap_size / page) != need)
				fail(S_RING, "memlock: %u entries: mmap_size %llu, want %ld pages",
				     entries, (unsigned long long)rs2.mmap_size, need);
			if (r == -ENOMEM) {
				close(x);
				if (pages + need <= RG_LOCK_PAGES)
					fail(S_RING, "memlock: ENOMEM for %ld pages with %ld of %d charged",
					     need, pages, RG_LOCK_PAGES);
				atomic_fetch_add(&rgs->enomem, 1);
				if (need <= 4)
					break;	/* full */
				continue;
			}
			if (r) {
				fail(S_RING, "memlock: setup gave %d", r);
				close(x);
				break;
			}
			if (pages + need > RG_LOCK_PAGES)
				fail(S_RING, "memlock: %ld pages charged past RLIMIT_MEMLOCK's %d",
				     pages + need, RG_LOCK_PAGES);
			pages += need;
			rr[n].size = rs2.mmap_size;
			rr[n].map = rnd(&rs) & 1 ? mmap(NULL, rs2.mmap_size,
					PROT_READ, MAP_SHARED, x, 0) : MAP_FAILED;
			fds[n++] = x;
		}
		/* released in any order; mapped ones at their munmap */
		for (int i = 0; i < n; i++) {
			close(fds[i]);
			if (rr[i].map != MAP_FAILED)
				munmap(rr[i].map, rr[i].size);
		}
		/* everything given back: the whole limit in one ring */
		{
			int x = xp_open(), r;
			struct xpoll_ring_setup rs2 = { .entries = 8192 };

			if (x >= 0) {
				r = ioctl(x, XPOLL_IOC_RING_SETUP, &rs2) ? -errno : 0;
				if (r)
					fail(S_RING, "memlock: after every ring was released, 41 of %d pages refused (%d): a charge was not given back",
					     RG_LOCK_PAGES, r);
				close(x);
			}
		}
		atomic_fetch_add(&rgs->memlock_rounds, 1);
		usleep(rnd(&rs) % 5000);
	}
}

static pid_t rg_fork(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	return pid;
}

static void ring_proc(void)
{
	struct xpoll_version v = { 0 };
	long long worst = 0;
	pid_t kid[2];
	int x;

	if (use_epoll) {
		atomic_store(&sh->sc[S_RING].skip, 1);
		return;
	}
	x = xp_open();
	if (x < 0 || ioctl(x, XPOLL_IOC_VERSION, &v) || !(v.features & XPOLL_FEAT_RING)) {
		atomic_store(&sh->sc[S_RING].skip, 2);
		if (x >= 0)
			close(x);
		return;
	}
	close(x);
	rgs = mmap(NULL, sizeof(*rgs), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rgs == MAP_FAILED) {
		fail(S_RING, "mmap: %s", strerror(errno));
		return;
	}
	memset(rgs, 0, sizeof(*rgs));
	kid[0] = rg_fork(rg_main);
	kid[1] = rg_fork(rg_memlock);
	/* the canary: a bystander (root) sleeping 1 ms at a time */
	while (!stopped()) {
		long long t0 = now_us(), late;

		usleep(1000);
		late = now_us() - t0 - 1000;
		if (late > worst)
			worst = late;
	}
	for (int i = 0; i < 2; i++) {
		int st = 0;

		if (kid[i] < 0 || waitpid(kid[i], &st, 0) != kid[i] ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			fail(S_RING, "%s process ended with status %#x",
			     i ? "memlock" : "uid 65534", st);
	}
	/*
	 * Seconds are scheduling under TCG on a loaded host (make check runs
	 * three guests on two cores); the hung-task and soft-lockup detectors
	 * watch for worse.
	 */
	if (worst > 10000000)
		fail(S_RING, "the canary (root, 1 ms sleeps) was held off %lld ms", worst / 1000);
	printf("# ring: %ld harvests of A (%ld by fork children), %ld events checked (%ld with data 0: a slot freed under the harvest), %ld overflows recovered; %ld waits; %ld changes refused (no EPOLLET, or EPOLLWAKEUP); live item: every write harvested, worst %lld ms; B: %ld scribbles, %ld remaps; C: %ld rounds (%ld appended after the fd was closed while mapped, %ld with ready bits withdrawn at the targets' close, %ld fork children); %ld ENOMEM, %ld memlock rounds; canary (root, 1 ms sleeps): worst %lld ms late\n",
	       atomic_load(&rgs->harvests), atomic_load(&rgs->child_harvests),
	       atomic_load(&rgs->events), atomic_load(&rgs->torn),
	       atomic_load(&rgs->overflows), atomic_load(&rgs->waits),
	       atomic_load(&rgs->refused),
	       (long long)atomic_load(&rgs->live_worst_us) / 1000,
	       atomic_load(&rgs->scribbles), atomic_load(&rgs->remaps),
	       atomic_load(&rgs->lc_rounds), atomic_load(&rgs->lc_after_close),
	       atomic_load(&rgs->lc_withdrawn), atomic_load(&rgs->lc_children),
	       atomic_load(&rgs->enomem), atomic_load(&rgs->memlock_rounds),
	       worst / 1000);
	/*
	 * A loop stuck in the kernel keeps its process past the stop (the
	 * 30 s check in main); one that made no round was starved: a note.
	 */
	if (!atomic_load(&rgs->lc_rounds) || !atomic_load(&rgs->memlock_rounds))
		printf("# ring: note: the lifecycle or the memlock loop made no round (starved?)\n");
}

/* ================= main ============================================== */

/*
 * Threads and scenario processes wait for sh->go, set once all exist: a
 * thread that ran at once would starve the one still creating the others
 * (seconds under TCG and KASAN), and the clock starts with the run.
 */
static void wait_go(void)
{
	while (!atomic_load(&sh->go))
		usleep(2000);
}

struct start {
	void *(*fn)(void *);
	void *arg;
};

static void *started(void *p)
{
	struct start st = *(struct start *)p;

	free(p);
	wait_go();
	return st.fn(st.arg);
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	struct start *st = malloc(sizeof(*st));

	if (!st) {
		perror("malloc");
		exit(2);
	}
	st->fn = fn;
	st->arg = arg;
	if (pthread_create(t, NULL, started, st)) {
		perror("pthread_create");
		exit(2);
	}
}

static pid_t spawn(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0) {
		wait_go();
		fn();
		_exit(0);
	}
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	return pid;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seconds N] [--epoll] [--only NAME[,NAME...]]\n"
		"  --epoll  run the same scenarios on the kernel's epoll (reference)\n"
		"  --only   run only those scenarios (names as in the TAP lines)\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 65536, 65536 };
	struct timespec t0, t1;
	static const int kid_scen[] = { S_INST, S_NEST, S_NRACE, S_RING };
	static void (*const kid_fn[])(void) = {
		close_inst_proc, nested_proc, nest_race_proc, ring_proc,
	};
	pthread_rwlockattr_t rwa;
	pthread_t th[40];
	int nth = 0, i, x, failed = 0, skipped = 0, want[NSCEN];
	pid_t kids[4];
	double secs, elapsed;
	char *only = NULL;

	secs = 20;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--epoll"))
			use_epoll = 1;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else
			usage(argv[0]);
	}
	for (i = 0; i < NSCEN; i++) {
		char *p = only;
		size_t l = strlen(scen_name[i]);

		want[i] = !only;
		while (p && *p) {
			if (!strncmp(p, scen_name[i], l) && (p[l] == ',' || !p[l]))
				want[i] = 1;
			p = strchr(p, ',');
			p = p ? p + 1 : NULL;
		}
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	x = use_epoll ? epoll_create1(0) : open(XPOLL_DEVICE, O_RDWR);
	if (x < 0) {
		printf("1..0 # SKIP cannot open %s: %s\n", XPOLL_DEVICE, strerror(errno));
		return 4;
	}
	close(x);
	printf("1..%d\n", NSCEN);
	printf("# running every scenario at once for %.0f s on %s\n", secs,
	       use_epoll ? "epoll (reference)" : "xpoll");

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	for (i = 0; i < NSCEN; i++)
		if (!want[i])
			atomic_store(&sh->sc[i].skip, 3);
	/* the process scenarios first, before this process has threads */
	for (i = 0; i < 4; i++)
		kids[i] = want[kid_scen[i]] ? spawn(kid_fn[i]) : 0;
	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fork_rw, &rwa);

	inst_a = xp_open();
	inst_b = xp_open();
	inst_c = xp_open();
	inst_c2 = xp_open();
	close_inst[0] = xp_open();
	close_inst[1] = xp_open();
	if (inst_a < 0 || inst_b < 0 || inst_c < 0 || inst_c2 < 0 ||
	    close_inst[0] < 0 || close_inst[1] < 0) {
		perror("open xpoll");
		return 2;
	}
	for (i = 0; i < NSLOT; i++) {
		pthread_mutex_init(&slots[i].ctl_lock, NULL);
		pthread_spin_init(&slots[i].ring_lock, PTHREAD_PROCESS_PRIVATE);
		slots[i].efd = new_efd(1);
	}
	for (i = 0; i < LT_K; i++) {
		lt_perm[i] = new_efd(1);
		if (xp_ctl(inst_c, XPOLL_CTL_ADD, lt_perm[i], EPOLLIN, 0x100 + i) ||
		    xp_ctl(inst_c2, XPOLL_CTL_ADD, lt_perm[i], EPOLLIN, 0x100 + i))
			fail(S_LT, "setup ADD failed");
	}
	for (i = 0; i < LT_M; i++) {
		lt_flip[i] = new_efd(0);
		if (xp_ctl(inst_c, XPOLL_CTL_ADD, lt_flip[i], EPOLLIN, 0x100 + LT_K + i) ||
		    xp_ctl(inst_c2, XPOLL_CTL_ADD, lt_flip[i], EPOLLIN, 0x100 + LT_K + i))
			fail(S_LT, "setup ADD failed");
	}
	for (i = 0; i < LT_X; i++)
		lt_extra[i] = new_efd(1);
	for (i = 0; i < 6; i++)
		ch_fd[i] = new_efd(0);
	for (i = 0; i < 3; i++) {
		int p[2];

		if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
			perror("pipe");
			return 2;
		}
		ch_fd[6 + i] = p[0];
		ch_fd[9 + i] = p[1];
	}
	cr_setup();
	if (cr_a < 0 || atomic_load(&cr_bfd) < 0)
		return 2;
	/* every long-lived file of this process is open by now */
	cr_files_start = files_nr();

#define START(sc, fn, a) do { \
		if (want[sc]) \
			start_thread(&th[nth++], fn, (void *)(intptr_t)(a)); \
	} while (0)
	START(S_CTL, ctl_thread, 0);
	START(S_CTL, ctl_thread, 1);
	START(S_CTL, ctl_thread, 2);
	START(S_CTL, ctl_waiter, 0);
	START(S_CTL, ctl_waiter, 1);
	START(S_CTL, ctl_flipper, 0);
	START(S_LT, lt_waiter, 0);
	START(S_LT, lt_waiter2, 0);
	START(S_LT, lt_waiter2, 1);
	START(S_LT, lt_ctl, 0);
	START(S_LT, lt_flipper, 0);
	START(S_CHAOS, chaos_ctl, 0);
	START(S_CHAOS, chaos_ctl, 1);
	START(S_CHAOS, chaos_ctl, 2);
	START(S_CHAOS, chaos_waiter, 0);
	START(S_CHAOS, chaos_waiter, 1);
	START(S_CHAOS, chaos_flipper, 0);
	START(S_CLOSE, close_dup_thread, 0);
	START(S_CLOSE, close_dup_thread, 1);
	START(S_FORK, fork_thread, 0);
	for (i = 0; i < CR_CREATORS; i++)
		START(S_CRACE, cr_creator, i);
	START(S_CRACE, cr_ctl, 0);
	START(S_CRACE, cr_ctl, 1);
	START(S_CRACE, cr_waiter, 0);
	START(S_CRACE, cr_waiter, 1);
	START(S_CRACE, cr_recreator, 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	atomic_store(&cr_go_us, now_us());
	atomic_store(&sh->go, 1);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&sh->stop, 1);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		int st = 0, w;
		pid_t r = 0;

		if (!kids[i])
			continue;
		/* a scenario process that outlives the stop by 30 s is hung */
		for (w = 0; w < 300 && !r; w++) {
			r = waitpid(kids[i], &st, WNOHANG);
			if (!r)
				usleep(100000);
		}
		if (!r) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], &st, 0);
			fail(kid_scen[i], "scenario process still running 30 s after the stop: killed");
		} else if (r != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fail(kid_scen[i], "scenario process ended with status %#x", st);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (want[S_CHAOS])
		chaos_final();
	if (want[S_CLOSE])
		close_final();
	if (want[S_CRACE])
		cr_final();

	printf("# ops: %ld seconds: %.1f ops_per_s: %.0f\n", atomic_load(&sh->ops),
	       elapsed, atomic_load(&sh->ops) / elapsed);
	for (i = 0; i < NSCEN; i++) {
		long f = atomic_load(&sh->sc[i].fails), it = atomic_load(&sh->sc[i].iters);
		int sk = atomic_load(&sh->sc[i].skip);

		if (sk && !f) {
			printf("ok %d %s # SKIP %s\n", i + 1, scen_name[i],
			       sk == 1 ? "no ring in epoll" : sk == 2 ?
			       "the module has no XPOLL_FEAT_RING" : "not selected (--only)");
			skipped++;
			continue;
		}
		if (!it && !f) {
			f = 1;
			snprintf(sh->sc[i].msg, sizeof(sh->sc[i].msg), "made no progress");
		}
		printf("# %s: %ld iterations, %ld failures%s%s\n", scen_name[i], it, f,
		       f ? ", first: " : "", f ? sh->sc[i].msg : "");
		printf("%sok %d %s\n", f ? "not " : "", i + 1, scen_name[i]);
		failed += !!f;
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       NSCEN - failed - skipped, failed, skipped);
	return failed ? 1 : 0;
}
