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
 *
 * Counters and the first failure of each scenario live in a MAP_SHARED page
 * so the two scenario processes report through it too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/xpoll.h>

enum { S_CTL, S_LT, S_CHAOS, S_CLOSE, S_FORK, S_INST, S_NEST, NSCEN };

static const char *const scen_name[NSCEN] = {
	"ctl_checked", "lt_single", "chaos_counts", "close_dup", "fork",
	"close_inst", "nested",
};

struct scen {
	atomic_long fails;
	atomic_long iters;
	char msg[512];
};

struct shared {
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
 */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;

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
		pid = fork();
		if (pid == 0)
			fork_child(f, e);
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

/* ================= main ============================================== */

static pid_t spawn(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0) {
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
	fprintf(stderr, "usage: %s [--seconds N] [--epoll]\n"
		"  --epoll  run the same scenarios on the kernel's epoll (reference)\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 65536, 65536 };
	struct timespec t0, t1;
	pthread_t th[32];
	int nth = 0, i, x, failed = 0;
	pid_t kids[2];
	double secs, elapsed;

	secs = 20;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--epoll"))
			use_epoll = 1;
		else
			usage(argv[0]);
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
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* the two process scenarios first, before this process has threads */
	kids[0] = spawn(close_inst_proc);
	kids[1] = spawn(nested_proc);

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

#define START(fn, a) pthread_create(&th[nth++], NULL, fn, (void *)(intptr_t)(a))
	START(ctl_thread, 0);
	START(ctl_thread, 1);
	START(ctl_thread, 2);
	START(ctl_waiter, 0);
	START(ctl_waiter, 1);
	START(ctl_flipper, 0);
	START(lt_waiter, 0);
	START(lt_waiter2, 0);
	START(lt_waiter2, 1);
	START(lt_ctl, 0);
	START(lt_flipper, 0);
	START(chaos_ctl, 0);
	START(chaos_ctl, 1);
	START(chaos_ctl, 2);
	START(chaos_waiter, 0);
	START(chaos_waiter, 1);
	START(chaos_flipper, 0);
	START(close_dup_thread, 0);
	START(close_dup_thread, 1);
	START(fork_thread, 0);

	usleep((useconds_t)(secs * 1e6));
	atomic_store(&sh->stop, 1);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 2; i++) {
		int st;

		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			fail(i ? S_NEST : S_INST, "scenario process ended with status %#x", st);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	chaos_final();
	close_final();

	printf("# ops: %ld seconds: %.1f ops_per_s: %.0f\n", atomic_load(&sh->ops),
	       elapsed, atomic_load(&sh->ops) / elapsed);
	for (i = 0; i < NSCEN; i++) {
		long f = atomic_load(&sh->sc[i].fails), it = atomic_load(&sh->sc[i].iters);

		if (!it && !f) {
			f = 1;
			snprintf(sh->sc[i].msg, sizeof(sh->sc[i].msg), "made no progress");
		}
		printf("# %s: %ld iterations, %ld failures%s%s\n", scen_name[i], it, f,
		       f ? ", first: " : "", f ? sh->sc[i].msg : "");
		printf("%sok %d %s\n", f ? "not " : "", i + 1, scen_name[i]);
		failed += !!f;
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
	       NSCEN - failed, failed);
	return failed ? 1 : 0;
}
