// SPDX-License-Identifier: GPL-2.0
/*
 * The ready ring (XPOLL_FEAT_RING, XPOLL_IOC_RING_SETUP, mmap): every rule
 * of the comment above struct xpoll_ring_setup in uapi/linux/xpoll.h.
 *
 * The consumer is written here from that comment (harvest_ring(),
 * harvest(), harvest_cas()), not taken from libxpoll, so the protocol as
 * documented is tested too:
 *  - setup: entries (0, not a power of 2, above the maximum; 1 and the
 *    maximum), flags and reserved, EBUSY (an item, a user event, a ring
 *    already), the layout returned (slots_off, ring_off, mmap_size) and
 *    hdr.entries; as root and as uid 65534 (fixture variants); a setup
 *    racing a level-triggered ADD;
 *  - map: ENODEV (as epoll's) before the setup, MAP_PRIVATE, offset and
 *    length, two mappings that agree, unmapped and mapped again; root and
 *    uid 65534;
 *  - modes: EPOLLET required (also in a batch), EPOLLWAKEUP refused (root
 *    and uid 65534), EPOLLONESHOT disarmed at the append and re-armed by
 *    MOD, EPOLLEXCLUSIVE (one ring of four woken, as one epoll instance of
 *    four), ENOSPC beyond entries and the slot of a DEL or a close reused,
 *    user events, a keyless wakeup, POLLFREE, bits filtered by the
 *    interest set;
 *  - protocol: an event is an index, ready bits and the slot's data; events
 *    before a harvest give one index with their bits ORed; the exchange
 *    re-arms; DEL and the last close clear the ready bits (index skipped);
 *    readiness gone by the harvest is still reported; a random sequence of
 *    ADD/MOD/DEL/writes/closes against epoll ET on the same files reports
 *    what epoll reports;
 *  - overflow: DEL/ADD churn, and a consumer that zeroes bits without
 *    advancing head, set hdr.overflow; the documented recovery (its slot
 *    scan included) finds every pending event;
 *  - waiting: the EINVAL rules, the count of indices (capped), timeout,
 *    wakeup from another thread, EINTR, CTL_WAIT, poll(); a plain wait
 *    begun before the setup;
 *  - nesting: a ring instance in epoll, in xpoll and in a ring instance;
 *    a ring instance watching an xpoll instance (beside epoll);
 *  - lifetime: the mapping holds a closed instance; a wait survives close
 *    and munmap; partial munmap, MADV_DONTNEED; munmap, mremap and map
 *    again while events flow; fork() shares the ring;
 *  - distrust: random bytes over the whole mapping while events, ADD/DEL
 *    and waits run (root and uid 65534), then the consumer's reset; hostile
 *    heads and fields the kernel must not read; RLIMIT_MEMLOCK charged to
 *    uid 65534 and given back, not to CAP_IPC_LOCK; the memory cgroup;
 *  - several harvesters with a compare-and-swap on head: each event is
 *    harvested exactly once.
 * xpoll only, with epoll run beside it where it has an answer.
 */
#include "xp_test.h"
#include <stddef.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

_Static_assert(sizeof(struct xpoll_ring_setup) == 40, "xpoll_ring_setup is 40 bytes");
_Static_assert(offsetof(struct xpoll_ring_setup, mmap_size) == 8, "mmap_size at 8");
_Static_assert(offsetof(struct xpoll_ring_setup, slots_off) == 16, "slots_off at 16");
_Static_assert(offsetof(struct xpoll_ring_setup, reserved) == 24, "reserved at 24");
_Static_assert(sizeof(struct xpoll_ring_hdr) == 128, "xpoll_ring_hdr is 128 bytes");
_Static_assert(offsetof(struct xpoll_ring_hdr, tail) == 64, "tail at 64");
_Static_assert(offsetof(struct xpoll_ring_hdr, overflow) == 68, "overflow at 68");
_Static_assert(offsetof(struct xpoll_ring_hdr, entries) == 72, "entries at 72");
_Static_assert(sizeof(struct xpoll_ring_slot) == 16, "xpoll_ring_slot is 16 bytes");

#define MS		1000000LL
#define ET		((uint32_t)EPOLLET)
#define EFD_FLAGS	(EFD_NONBLOCK | EFD_CLOEXEC)
#define REFCNT		"/sys/module/xpoll/refcnt"
/* event bits, without the mode bits (ET, ONESHOT, WAKEUP, EXCLUSIVE) */
#define EVBITS		0x0fffffffU
#define ERRHUP		(EPOLLERR | EPOLLHUP)

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t page_align(size_t n)
{
	return (n + page_size() - 1) & ~(page_size() - 1);
}

/* ---- raw calls: 0 / count, or -errno ---- */

static bool ring_feature(void)
{
	struct xpoll_version v = { 0 };
	int x = xp_open(O_CLOEXEC);
	bool ok;

	if (x < 0)
		return false;
	ok = !ioctl(x, XPOLL_IOC_VERSION, &v) && (v.features & XPOLL_FEAT_RING);
	close(x);
	return ok;
}

#define RING_REQUIRE() do { \
	XP_REQUIRE(BE_XPOLL); \
	ASSERT_TRUE(ring_feature()) \
		TH_LOG("XPOLL_IOC_VERSION does not report XPOLL_FEAT_RING"); \
} while (0)

static int setup_raw(int x, struct xpoll_ring_setup *rs)
{
	return ioctl(x, XPOLL_IOC_RING_SETUP, rs) ? -errno : 0;
}

static int setup(int x, uint32_t entries, struct xpoll_ring_setup *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->entries = entries;
	return setup_raw(x, rs);
}

static int xctl(int x, uint32_t op, int fd, uint32_t ev, uint64_t d)
{
	return xp_ctl_raw(x, op, fd, ev, d) ? -errno : 0;
}

static int uctl(int x, uint32_t op, int fd, uint64_t key, uint32_t ev,
		uint64_t d)
{
	struct xpoll_ctl c = {
		.op = op, .fd = fd, .events = ev, .flags = XPOLL_CTL_USER,
		.data = d, .key = key,
	};

	return ioctl(x, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

static int u_add(int x, uint64_t key, uint32_t ev, uint64_t d)
{
	return uctl(x, XPOLL_CTL_ADD, -1, key, ev, d);
}

static int u_mod(int x, uint64_t key, uint32_t ev, uint64_t d)
{
	return uctl(x, XPOLL_CTL_MOD, -1, key, ev, d);
}

static int u_del(int x, uint64_t key)
{
	return uctl(x, XPOLL_CTL_DEL, -1, key, 0, 0);
}

static int u_trig(int x, uint64_t key, uint32_t ev)
{
	return uctl(x, XPOLL_CTL_TRIGGER, -1, key, ev, 0);
}

static int u_clear(int x, uint64_t key, uint32_t ev)
{
	return uctl(x, XPOLL_CTL_CLEAR, -1, key, ev, 0);
}

/* XPOLL_IOC_WAIT with every field: its count or -errno. */
static int rwait_full(int x, uint64_t events, int max, int64_t ns,
		      uint32_t min_events, const sigset_t *mask)
{
	struct xpoll_wait w = {
		.events = events, .maxevents = max, .timeout_ns = ns,
		.min_events = min_events, .sigmask = (uintptr_t)mask,
		.sigsetsize = mask ? 8 : 0,
	};
	int r = ioctl(x, XPOLL_IOC_WAIT, &w);

	return r < 0 ? -errno : r;
}

/* The ring instance's wait: no buffer. */
static int rwait(int x, int max, int64_t ns)
{
	return rwait_full(x, 0, max, ns, 0, NULL);
}

static int fire(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, 8) == 8 ? 0 : -errno;
}

static void drain(int fd)
{
	char b[4096];

	while (read(fd, b, sizeof(b)) > 0)
		;
}

static int pollin(int fd, int ms, short *revents)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, ms);

	if (revents)
		*revents = p.revents;
	return r;
}

/* ---- the ring, as the consumer sees it ---- */

struct ring {
	int x;
	uint32_t entries, mask;
	struct xpoll_ring_setup rs;
	size_t size;
	void *mem;
	struct xpoll_ring_hdr *hdr;
	struct xpoll_ring_slot *slots;
	uint32_t *ring;
};

static void ring_view(struct ring *r, void *mem)
{
	r->mem = mem;
	r->hdr = mem;
	r->slots = (void *)((char *)mem + r->rs.slots_off);
	r->ring = (void *)((char *)mem + r->rs.ring_off);
}

static void *map_len(int x, size_t len, int flags, off_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, flags, x, off);
}

/* A new instance, set up with @entries and mapped: 0 or -errno. */
static int ring_open(struct ring *r, uint32_t entries)
{
	void *m;
	int e;

	memset(r, 0, sizeof(*r));
	r->mem = MAP_FAILED;
	r->x = xp_open(O_CLOEXEC);
	if (r->x < 0)
		return -errno;
	e = setup(r->x, entries, &r->rs);
	if (e)
		return e;
	r->entries = entries;
	r->mask = entries - 1;
	r->size = r->rs.mmap_size;
	m = map_len(r->x, r->size, MAP_SHARED, 0);
	if (m == MAP_FAILED)
		return -errno;
	ring_view(r, m);
	return 0;
}

static void ring_close(struct ring *r)
{
	if (r->mem && r->mem != MAP_FAILED)
		munmap(r->mem, r->size);
	r->mem = MAP_FAILED;
	if (r->x >= 0)
		close(r->x);
	r->x = -1;
}

static uint32_t ld(uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint32_t tail_of(struct ring *r)
{
	return ld(&r->hdr->tail);
}

static uint32_t head_of(struct ring *r)
{
	return ld(&r->hdr->head);
}

static uint32_t queued(struct ring *r)
{
	return tail_of(r) - head_of(r);
}

/* One harvested event. */
struct rev {
	uint32_t bits, idx;
	uint64_t data;
};

struct hstat {
	int skipped;	/* indices whose ready bits were 0 */
	int bad;	/* indices out of range */
	int bad_head;	/* head not within entries behind tail */
	int overflow;	/* recoveries run */
	int scanned;	/* events taken by the slot scan */
};

/* Exchange slot @idx's ready bits for 0; 1 and the event if any. */
static int take(struct ring *r, uint32_t idx, struct rev *ev)
{
	uint32_t bits = __atomic_exchange_n(&r->slots[idx].ready, 0,
					    __ATOMIC_ACQ_REL);

	if (!bits)
		return 0;
	ev->bits = bits;
	ev->idx = idx;
	ev->data = __atomic_load_n(&r->slots[idx].data, __ATOMIC_RELAXED);
	return 1;
}

/*
 * The consumer of the uapi comment, one thread: load-acquire tail; for
 * each position from head: read the index, advance head (store-release),
 * exchange slot.ready for 0; bits 0 mean the index is skipped.  Bounded
 * against a head or an index userspace may have broken.
 */
static int harvest_ring(struct ring *r, struct rev *ev, int max,
			struct hstat *s)
{
	uint32_t tail = ld(&r->hdr->tail);
	uint32_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
	int n = 0;

	if (tail - head > r->entries) {
		s->bad_head++;
		return 0;
	}
	while (head != tail && n < max) {
		uint32_t idx = __atomic_load_n(&r->ring[head & r->mask],
					       __ATOMIC_RELAXED);

		st(&r->hdr->head, ++head);
		if (idx >= r->entries) {
			s->bad++;
			continue;
		}
		if (take(r, idx, &ev[n]))
			n++;
		else
			s->skipped++;
	}
	return n;
}

/*
 * harvest_ring() with the overflow recovery: when hdr.overflow is 1,
 * store 0 there, harvest the ring, then take every slot whose ready bits
 * are not 0.  Repeated while the overflow comes back (at most 4 times).
 */
static int harvest_st(struct ring *r, struct rev *ev, int max,
		      struct hstat *s)
{
	int n = 0;

	/* Items whose wakeup had no bits: a wait makes the kernel post them. */
	if (ld(&r->hdr->repoll))
		rwait(r->x, 1, 0);

	for (int round = 0; round < 4 && n < max; round++) {
		uint32_t of = __atomic_exchange_n(&r->hdr->overflow, 0,
						  __ATOMIC_SEQ_CST);

		n += harvest_ring(r, ev + n, max - n, s);
		if (of) {
			s->overflow++;
			for (uint32_t i = 0; i < r->entries && n < max; i++) {
				if (!__atomic_load_n(&r->slots[i].ready,
						     __ATOMIC_RELAXED))
					continue;
				if (take(r, i, &ev[n])) {
					n++;
					s->scanned++;
				}
			}
		}
		if (!ld(&r->hdr->overflow))
			break;
	}
	return n;
}

static int harvest(struct ring *r, struct rev *ev, int max)
{
	struct hstat s = { 0 };

	return harvest_st(r, ev, max, &s);
}

/*
 * The consumer with several threads: head advanced by compare-and-swap,
 * the position claimed before its slot is taken.
 */
static int harvest_cas(struct ring *r, struct rev *ev, int max, long *bad)
{
	uint32_t head;
	int n = 0;

	if (ld(&r->hdr->repoll))
		rwait(r->x, 1, 0);
	head = ld(&r->hdr->head);
	while (n < max) {
		uint32_t tail = ld(&r->hdr->tail), idx;

		if ((int32_t)(tail - head) <= 0)
			break;
		idx = __atomic_load_n(&r->ring[head & r->mask], __ATOMIC_RELAXED);
		if (!__atomic_compare_exchange_n(&r->hdr->head, &head, head + 1,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;	/* head reloaded */
		head++;
		if (idx >= r->entries) {
			(*bad)++;
			continue;
		}
		n += take(r, idx, &ev[n]);
	}
	return n;
}

/* ---- expected events ---- */

struct exp {
	uint64_t data;
	uint32_t bits;
};

#define EXP(...) ((const struct exp[]){ __VA_ARGS__ }), \
	(int)(sizeof((const struct exp[]){ __VA_ARGS__ }) / sizeof(struct exp))
#define NONE NULL, 0

static void print_revs(const char *who, const struct rev *ev, int n)
{
	fprintf(stderr, "#   %s: %d event(s):", who, n);
	for (int i = 0; i < n && i < 32; i++)
		fprintf(stderr, " {%#llx %#x}", (unsigned long long)ev[i].data,
			ev[i].bits);
	fprintf(stderr, "\n");
}

/* ev[0..n) is exactly e[0..ne) as a set (each expected once); 0 or -1. */
static int match(const char *who, const struct rev *ev, int n,
		 const struct exp *e, int ne, int line)
{
	bool used[64] = { false };
	int bad = n != ne || n > 64;

	for (int i = 0; !bad && i < ne; i++) {
		int j;

		for (j = 0; j < n; j++)
			if (!used[j] && ev[j].data == e[i].data)
				break;
		if (j == n || ev[j].bits != e[i].bits)
			bad = 1;
		else
			used[j] = true;
	}
	if (bad) {
		fprintf(stderr, "# line %d: %s: expected %d event(s):", line,
			who, ne);
		for (int i = 0; i < ne; i++)
			fprintf(stderr, " {%#llx %#x}",
				(unsigned long long)e[i].data, e[i].bits);
		fprintf(stderr, "\n");
		print_revs("got", ev, n);
	}
	return bad ? -1 : 0;
}

/* Harvest the ring (with recovery) and compare with the expectation. */
#define HARVEST_IS(r, ...) do { \
	struct rev _ev[64]; \
	int _n = harvest((r), _ev, 64); \
	ASSERT_EQ(0, match("ring", _ev, _n, __VA_ARGS__, __LINE__)); \
} while (0)

/* ---- the same files in an epoll instance (ET) and a ring instance ---- */

struct dual {
	int ep;
	struct ring r;
	int fd[16];
	int n;
};

static int dual_open(struct dual *d, uint32_t entries, int nfd)
{
	int e = ring_open(&d->r, entries);

	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->n = nfd;
	for (int i = 0; i < nfd; i++)
		d->fd[i] = eventfd(0, EFD_FLAGS);
	return e ? e : d->ep < 0 ? -errno : 0;
}

static void dual_close(struct dual *d)
{
	for (int i = 0; i < d->n; i++)
		if (d->fd[i] >= 0)
			close(d->fd[i]);
	close(d->ep);
	ring_close(&d->r);
}

/* The same ctl on both: their common result, or -9999 if they differ. */
static int d_ctl(struct dual *d, int op, int i, uint32_t ev, uint64_t data)
{
	int a = pl_ctl(BE_EPOLL, d->ep, op, d->fd[i], ev, data);
	int b = xctl(d->r.x, op, d->fd[i], ev, data);

	if (a != b) {
		fprintf(stderr, "# ctl op %d fd %d events %#x: epoll %d, ring %d\n",
			op, i, ev, a, b);
		return -9999;
	}
	return a;
}

static int ep_harvest(int ep, struct rev *ev, int max)
{
	struct epoll_event e[64];
	int n = epoll_wait(ep, e, max < 64 ? max : 64, 0);

	for (int i = 0; i < n; i++)
		ev[i] = (struct rev){ .bits = e[i].events, .data = e[i].data.u64 };
	return n;
}

/* epoll_wait(0) reports exactly e[0..ne). */
#define EPOLL_IS(d, ...) do { \
	struct rev _ev[64]; \
	int _n = ep_harvest((d)->ep, _ev, 64); \
	ASSERT_EQ(0, match("epoll", _ev, _n, __VA_ARGS__, __LINE__)); \
} while (0)

/* Both report exactly e[0..ne): epoll_wait(0) and a harvest. */
#define BOTH_ARE(d, ...) do { \
	struct rev _ev[64]; \
	int _n = ep_harvest((d)->ep, _ev, 64); \
	ASSERT_EQ(0, match("epoll", _ev, _n, __VA_ARGS__, __LINE__)); \
	_n = harvest(&(d)->r, _ev, 64); \
	ASSERT_EQ(0, match("ring", _ev, _n, __VA_ARGS__, __LINE__)); \
} while (0)

/* Index of the slot holding data @d, or -1 (also if more than one). */
static int slot_of(struct ring *r, uint64_t d)
{
	int s = -1;

	for (uint32_t i = 0; i < r->entries; i++) {
		if (__atomic_load_n(&r->slots[i].data, __ATOMIC_RELAXED) != d)
			continue;
		if (s >= 0)
			return -2;
		s = (int)i;
	}
	return s;
}

/* Run fn(arg) in a child as uid 65534: its exit status (254: died). */
static int as_nobody(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 253;
	if (pid == 0) {
		if (geteuid() == 0 && xp_drop_privs(XP_NOBODY))
			_exit(252);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 254;
	return WEXITSTATUS(status);
}

static void become(bool nobody, struct __test_metadata *_metadata)
{
	if (nobody && geteuid() == 0) {
		ASSERT_EQ(0, xp_drop_privs(XP_NOBODY));
	}
	if (nobody) {
		ASSERT_NE(0, geteuid());
	}
}

static uint64_t xs_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ==== setup ==== */

FIXTURE(setup) {
	int x;
};
FIXTURE_VARIANT(setup) { bool nobody; };
FIXTURE_VARIANT_ADD(setup, root) { .nobody = false };
FIXTURE_VARIANT_ADD(setup, nobody) { .nobody = true };

FIXTURE_SETUP(setup)
{
	RING_REQUIRE();
	become(variant->nobody, _metadata);
	self->x = xp_open(O_CLOEXEC);
	ASSERT_LE(0, self->x) TH_LOG("open %s: %s", XPOLL_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(setup)
{
	close(self->x);
}

/* Not a ring instance: mmap fails with ENODEV, as for epoll. */
static int map_errno(int x)
{
	void *m = map_len(x, page_size(), MAP_SHARED, 0);

	if (m != MAP_FAILED) {
		munmap(m, page_size());
		return 0;
	}
	return -errno;
}

TEST_F(setup, entries_a_power_of_2_from_1_to_the_max)
{
	static const uint32_t bad[] = {
		0, 3, 5, 6, 7, 12, 100, 1000, 1023, 1025, 65535, 65537,
		XPOLL_RING_MAX_ENTRIES - 1, XPOLL_RING_MAX_ENTRIES + 1,
		XPOLL_RING_MAX_ENTRIES * 2, XPOLL_RING_MAX_ENTRIES * 4,
		1U << 31, (1U << 31) + 1, 0xffffffffU,
	};
	struct xpoll_ring_setup rs;
	int e = eventfd(0, EFD_FLAGS), e2 = eventfd(0, EFD_FLAGS);

	ASSERT_LE(0, e);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, setup(self->x, bad[i], &rs))
			TH_LOG("entries %#x", bad[i]);
	}
	/* none of them made it a ring instance */
	EXPECT_EQ(-ENODEV, map_errno(self->x));
	/* the smallest ring: one slot, so one item */
	ASSERT_EQ(0, setup(self->x, 1, &rs));
	EXPECT_EQ(0, map_errno(self->x));
	EXPECT_EQ(0, xctl(self->x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1));
	EXPECT_EQ(-ENOSPC, xctl(self->x, XPOLL_CTL_ADD, e2, EPOLLIN | ET, 2));
	EXPECT_EQ(-ENOSPC, u_add(self->x, 7, EPOLLIN | ET, 3));
	close(e);
	close(e2);
}

/*
 * The largest ring, XPOLL_RING_MAX_ENTRIES: root (CAP_IPC_LOCK) sets it
 * up (20 MiB; not mapped here, the layout test maps smaller ones whole);
 * uid 65534 too if RLIMIT_MEMLOCK allows its mapping, else ENOMEM.
 */
TEST_F(setup, the_largest_ring)
{
	const uint32_t n = XPOLL_RING_MAX_ENTRIES;
	size_t need = page_align(128 + 20 * (size_t)n);
	struct xpoll_ring_setup rs;
	struct rlimit rl;
	int r;

	ASSERT_EQ(0, getrlimit(RLIMIT_MEMLOCK, &rl));
	r = setup(self->x, n, &rs);
	if (variant->nobody && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		EXPECT_EQ(-ENOMEM, r) TH_LOG("RLIMIT_MEMLOCK %llu < %zu bytes",
					     (unsigned long long)rl.rlim_cur, need);
		/* and the instance is still no ring instance */
		EXPECT_EQ(-ENODEV, map_errno(self->x));
		return;
	}
	ASSERT_EQ(0, r);
	EXPECT_EQ(128, rs.slots_off);
	EXPECT_EQ(128 + 16ULL * n, rs.ring_off);
	EXPECT_LE(need, rs.mmap_size);
	EXPECT_EQ(0, rs.mmap_size % page_size());
	EXPECT_EQ(0, map_errno(self->x));	/* a page of it */
}

TEST_F(setup, flags_and_reserved_must_be_0)
{
	int e = eventfd(0, EFD_FLAGS), ep = epoll_create1(EPOLL_CLOEXEC);
	struct xpoll_ring_setup rs;

	memset(&rs, 0, sizeof(rs));
	rs = (struct xpoll_ring_setup){ .entries = 4, .flags = 1 };
	EXPECT_EQ(-EINVAL, setup_raw(self->x, &rs));
	rs = (struct xpoll_ring_setup){ .entries = 4, .flags = 1U << 31 };
	EXPECT_EQ(-EINVAL, setup_raw(self->x, &rs));
	rs = (struct xpoll_ring_setup){ .entries = 4, .reserved = { 1, 0 } };
	EXPECT_EQ(-EINVAL, setup_raw(self->x, &rs));
	rs = (struct xpoll_ring_setup){ .entries = 4, .reserved = { 0, 1ULL << 63 } };
	EXPECT_EQ(-EINVAL, setup_raw(self->x, &rs));
	EXPECT_EQ(-ENODEV, map_errno(self->x));
	EXPECT_EQ(-EFAULT, ioctl(self->x, XPOLL_IOC_RING_SETUP, NULL) ? -errno : 0);
	EXPECT_EQ(-ENODEV, map_errno(self->x));
	/* out fields are outputs: what the caller left there is overwritten */
	rs = (struct xpoll_ring_setup){ .entries = 4, .mmap_size = ~0ULL,
					.slots_off = 12345, .ring_off = 678 };
	ASSERT_EQ(0, setup_raw(self->x, &rs));
	EXPECT_EQ(128, rs.slots_off);
	EXPECT_EQ(128 + 16 * 4, rs.ring_off);
	EXPECT_LE(128 + 20 * 4, rs.mmap_size);
	EXPECT_EQ(0, rs.mmap_size % page_size());
	EXPECT_EQ(4, rs.entries);
	/* not an instance: the ioctl is unknown there */
	rs = (struct xpoll_ring_setup){ .entries = 4 };
	EXPECT_EQ(-ENOTTY, setup_raw(e, &rs));
	EXPECT_EQ(-ENOTTY, setup_raw(ep, &rs));
	close(e);
	close(ep);
}

/* The layout returned and the header found in the mapping. */
TEST_F(setup, layout_returned_and_header)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8, 64, 256, 1024, 4096 };

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t n = sizes[i];
		struct ring r;
		uint64_t end = 128 + 20ULL * n;

		ASSERT_EQ(0, ring_open(&r, n)) TH_LOG("entries %u", n);
		EXPECT_EQ(128, r.rs.slots_off) TH_LOG("entries %u", n);
		EXPECT_EQ(128 + 16ULL * n, r.rs.ring_off) TH_LOG("entries %u", n);
		EXPECT_EQ(0, r.rs.mmap_size % page_size())
			TH_LOG("entries %u: mmap_size %llu", n,
			       (unsigned long long)r.rs.mmap_size);
		EXPECT_LE(end, r.rs.mmap_size) TH_LOG("entries %u", n);
		if (r.rs.mmap_size > page_align(end))
			TH_LOG("entries %u: mmap_size %llu, %zu would do", n,
			       (unsigned long long)r.rs.mmap_size, page_align(end));
		EXPECT_EQ(n, r.rs.entries);
		EXPECT_EQ(0, r.rs.flags);
		EXPECT_EQ(n, r.hdr->entries) TH_LOG("entries %u", n);
		EXPECT_EQ(head_of(&r), tail_of(&r));
		EXPECT_EQ(0, r.hdr->overflow);
		/* the last slot and index lie in the mapping, and nothing is ready */
		EXPECT_EQ(0, r.slots[n - 1].ready);
		(void)*(volatile uint32_t *)&r.ring[n - 1];
		for (uint32_t s = 0; s < n; s++)
			if (r.slots[s].ready) {
				EXPECT_EQ(0, r.slots[s].ready) TH_LOG("slot %u", s);
				break;
			}
		ring_close(&r);
	}
}

/*
 * EBUSY: an instance with an item, or with a user event, or a ring
 * already; it stays what it was.  Then one whose items were all deleted:
 * "an instance that has no item yet" or "EBUSY: the instance has items"?
 * The uapi does not decide; its answer is logged.
 */
TEST_F(setup, ebusy_with_an_item_a_user_event_or_a_ring)
{
	int e = eventfd(0, EFD_FLAGS), u = xp_open(O_CLOEXEC), y = xp_open(O_CLOEXEC);
	struct xpoll_ring_setup rs;
	struct epoll_event ev[4];
	struct ring r;
	int res;
	void *m;

	ASSERT_LE(0, u);
	ASSERT_LE(0, y);
	/* an item: still a plain instance, level-triggered item and all */
	ASSERT_EQ(0, xctl(self->x, XPOLL_CTL_ADD, e, EPOLLIN, 0x42));
	EXPECT_EQ(-EBUSY, setup(self->x, 4, &rs));
	EXPECT_EQ(-ENODEV, map_errno(self->x));
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(1, pl_wait(BE_XPOLL, self->x, ev, 4, 0, NULL));
	EXPECT_EQ(1, pl_wait(BE_XPOLL, self->x, ev, 4, 0, NULL));
	EXPECT_EQ(0x42, ev[0].data.u64);
	/* a user event */
	ASSERT_EQ(0, u_add(u, 9, EPOLLIN, 0x43));
	EXPECT_EQ(-EBUSY, setup(u, 4, &rs));
	EXPECT_EQ(-ENODEV, map_errno(u));
	ASSERT_EQ(0, u_trig(u, 9, EPOLLIN));
	EXPECT_EQ(1, pl_wait(BE_XPOLL, u, ev, 4, 0, NULL));
	EXPECT_EQ(0x43, ev[0].data.u64);
	/* a ring already: nothing changes, still 4 slots */
	ASSERT_EQ(0, ring_open(&r, 4));
	EXPECT_EQ(-EBUSY, setup(r.x, 4, &rs));
	EXPECT_EQ(-EBUSY, setup(r.x, 8, &rs));
	EXPECT_EQ(-EBUSY, setup(r.x, 1, &rs));
	EXPECT_NE(0, setup(r.x, 3, &rs));	/* EINVAL or EBUSY */
	EXPECT_EQ(4, r.hdr->entries);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(0, u_add(r.x, i, EPOLLIN | ET, i));
	}
	EXPECT_EQ(-ENOSPC, u_add(r.x, 4, EPOLLIN | ET, 4));
	ASSERT_EQ(0, u_trig(r.x, 2, EPOLLIN));
	HARVEST_IS(&r, EXP({ 2, EPOLLIN }));
	ring_close(&r);
	/* every item deleted */
	ASSERT_EQ(0, xctl(y, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	ASSERT_EQ(0, u_add(y, 1, EPOLLIN, 1));
	ASSERT_EQ(0, xctl(y, XPOLL_CTL_DEL, e, 0, 0));
	ASSERT_EQ(0, u_del(y, 1));
	res = setup(y, 4, &rs);
	TH_LOG("setup after ADD + DEL of every item: %d (%s)", res,
	       res ? strerror(-res) : "accepted");
	EXPECT_TRUE(res == 0 || res == -EBUSY);
	if (res == 0) {
		m = map_len(y, rs.mmap_size, MAP_SHARED, 0);
		ASSERT_NE(MAP_FAILED, m);
		EXPECT_EQ(-EINVAL, xctl(y, XPOLL_CTL_ADD, e, EPOLLIN, 1));
		EXPECT_EQ(0, xctl(y, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1));
		munmap(m, rs.mmap_size);
	}
	close(y);
	close(u);
	close(e);
}

/* ==== map ==== */

FIXTURE(map) {
	struct ring r;
};
FIXTURE_VARIANT(map) { bool nobody; };
FIXTURE_VARIANT_ADD(map, root) { .nobody = false };
FIXTURE_VARIANT_ADD(map, nobody) { .nobody = true };

FIXTURE_SETUP(map)
{
	RING_REQUIRE();
	become(variant->nobody, _metadata);
	self->r.x = -1;
	self->r.mem = MAP_FAILED;
}

FIXTURE_TEARDOWN(map)
{
	ring_close(&self->r);
}

TEST_F(map, enodev_before_the_setup)
{
	int x = xp_open(O_CLOEXEC), e = eventfd(0, EFD_FLAGS);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct xpoll_ring_setup rs;

	ASSERT_LE(0, x);
	EXPECT_EQ(-ENODEV, map_errno(ep));	/* epoll's answer */
	close(ep);
	EXPECT_EQ(-ENODEV, map_errno(x));
	ASSERT_EQ(0, xctl(x, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	EXPECT_EQ(-ENODEV, map_errno(x));
	EXPECT_EQ(-EBUSY, setup(x, 4, &rs));
	EXPECT_EQ(-ENODEV, map_errno(x));
	close(x);
	x = xp_open(O_CLOEXEC);
	EXPECT_EQ(-EINVAL, setup(x, 5, &rs));
	EXPECT_EQ(-ENODEV, map_errno(x));
	ASSERT_EQ(0, setup(x, 4, &rs));
	EXPECT_EQ(0, map_errno(x));
	close(x);
	close(e);
}

TEST_F(map, map_private_refused)
{
	void *m;

	ASSERT_EQ(0, ring_open(&self->r, 8));
	m = map_len(self->r.x, self->r.size, MAP_PRIVATE, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	m = mmap(NULL, self->r.size, PROT_READ, MAP_PRIVATE, self->r.x, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	/* the shared mapping works beside it */
	m = map_len(self->r.x, self->r.size, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(8, ((struct xpoll_ring_hdr *)m)->entries);
	munmap(m, self->r.size);
}

TEST_F(map, offset_0_and_at_most_mmap_size)
{
	size_t sz, pg = page_size();
	void *m;

	ASSERT_EQ(0, ring_open(&self->r, 1024));	/* more than one page */
	sz = self->r.size;
	ASSERT_LT(pg, sz);
	m = map_len(self->r.x, pg, MAP_SHARED, (off_t)pg);
	EXPECT_EQ(MAP_FAILED, m) TH_LOG("offset one page mapped");
	EXPECT_EQ(EINVAL, errno);
	m = map_len(self->r.x, sz - pg, MAP_SHARED, (off_t)pg);
	EXPECT_EQ(MAP_FAILED, m) TH_LOG("offset one page, the rest, mapped");
	EXPECT_EQ(EINVAL, errno);
	m = map_len(self->r.x, pg, MAP_SHARED, (off_t)sz);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	m = map_len(self->r.x, sz + pg, MAP_SHARED, 0);
	EXPECT_EQ(MAP_FAILED, m) TH_LOG("mmap_size + a page mapped");
	EXPECT_EQ(EINVAL, errno);
	m = map_len(self->r.x, 2 * sz, MAP_SHARED, 0);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno);
	/* shorter than mmap_size: the uapi says "mmap_size bytes"; logged */
	m = map_len(self->r.x, pg, MAP_SHARED, 0);
	TH_LOG("a mapping of one page of %zu: %s", sz,
	       m == MAP_FAILED ? strerror(errno) : "accepted");
	if (m != MAP_FAILED) {
		EXPECT_EQ(1024, ((struct xpoll_ring_hdr *)m)->entries);
		munmap(m, pg);
	}
	/* what the test harness's ring_open() mapped is still fine */
	EXPECT_EQ(1024, self->r.hdr->entries);
}

/* Two mappings of one ring are two views of the same memory. */
TEST_F(map, mapped_twice_both_views_agree)
{
	struct ring b;
	int e = eventfd(0, EFD_FLAGS), f = eventfd(0, EFD_FLAGS);
	uint32_t t0;
	void *m;

	ASSERT_EQ(0, ring_open(&self->r, 8));
	m = map_len(self->r.x, self->r.size, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, m);
	b = self->r;
	ring_view(&b, m);
	ASSERT_NE(self->r.mem, b.mem);
	ASSERT_EQ(0, xctl(self->r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0xE1));
	ASSERT_EQ(0, xctl(self->r.x, XPOLL_CTL_ADD, f, EPOLLIN | ET, 0xF1));
	t0 = tail_of(&b);
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(t0 + 1, tail_of(&self->r));
	EXPECT_EQ(t0 + 1, tail_of(&b));
	EXPECT_EQ(0, memcmp(self->r.mem, b.mem, self->r.size));
	/* a harvest through one view is seen through the other */
	HARVEST_IS(&b, EXP({ 0xE1, EPOLLIN }));
	EXPECT_EQ(t0 + 1, head_of(&self->r));
	EXPECT_EQ(0, memcmp(self->r.mem, b.mem, self->r.size));
	/* a write through one view is seen through the other */
	b.hdr->pad1[0] = 0x5a5a5a5a;
	EXPECT_EQ(0x5a5a5a5a, self->r.hdr->pad1[0]);
	b.hdr->pad1[0] = 0;
	/* one view goes, the other stays */
	ASSERT_EQ(0, munmap(b.mem, b.size));
	ASSERT_EQ(0, fire(f));
	ASSERT_EQ(0, fire(e));
	HARVEST_IS(&self->r, EXP({ 0xF1, EPOLLIN }, { 0xE1, EPOLLIN }));
	close(e);
	close(f);
}

/* Unmapped, then mapped again: the same ring, with what came meanwhile. */
TEST_F(map, unmapped_and_mapped_again)
{
	int e = eventfd(0, EFD_FLAGS);
	uint32_t t0, h0;
	void *m;

	ASSERT_EQ(0, ring_open(&self->r, 4));
	ASSERT_EQ(0, xctl(self->r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0xE2));
	ASSERT_EQ(0, fire(e));
	HARVEST_IS(&self->r, EXP({ 0xE2, EPOLLIN }));
	t0 = tail_of(&self->r);
	h0 = head_of(&self->r);
	ASSERT_EQ(0, munmap(self->r.mem, self->r.size));
	self->r.mem = MAP_FAILED;
	ASSERT_EQ(0, fire(e));
	m = map_len(self->r.x, self->r.size, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, m);
	ring_view(&self->r, m);
	EXPECT_EQ(h0, head_of(&self->r));
	EXPECT_EQ(t0 + 1, tail_of(&self->r));
	EXPECT_EQ(4, self->r.hdr->entries);
	HARVEST_IS(&self->r, EXP({ 0xE2, EPOLLIN }));
	close(e);
}

/* ==== modes ==== */

TEST(items_must_be_edge_triggered)
{
	int e = eventfd(0, EFD_FLAGS), f = eventfd(0, EFD_FLAGS);
	int g = eventfd(0, EFD_FLAGS);
	struct ring r;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	EXPECT_EQ(-EINVAL, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN, 1));
	EXPECT_EQ(-EINVAL, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | EPOLLONESHOT, 1));
	EXPECT_EQ(-EINVAL, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | EPOLLEXCLUSIVE, 1));
	EXPECT_EQ(-EINVAL, xctl(r.x, XPOLL_CTL_ADD, e, 0, 1));
	EXPECT_EQ(-EINVAL, u_add(r.x, 1, EPOLLIN, 1));
	EXPECT_EQ(-EINVAL, u_add(r.x, 1, EPOLLIN | EPOLLONESHOT, 1));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1));
	EXPECT_EQ(-EINVAL, xctl(r.x, XPOLL_CTL_MOD, e, EPOLLIN, 2));
	EXPECT_EQ(-EINVAL, xctl(r.x, XPOLL_CTL_MOD, e, EPOLLIN | EPOLLONESHOT, 2));
	ASSERT_EQ(0, u_add(r.x, 1, EPOLLIN | ET, 0x11));
	EXPECT_EQ(-EINVAL, u_mod(r.x, 1, EPOLLIN, 0x12));
	/* the failed MODs changed nothing */
	ASSERT_EQ(0, fire(e));
	ASSERT_EQ(0, u_trig(r.x, 1, EPOLLIN));
	HARVEST_IS(&r, EXP({ 1, EPOLLIN }, { 0x11, EPOLLIN }));
	/* the same rules through XPOLL_IOC_CTL_BATCH, change by change */
	{
		struct xpoll_ctl c[3] = {
			{ .op = XPOLL_CTL_ADD, .fd = f, .events = EPOLLIN, .data = 3 },
			{ .op = XPOLL_CTL_ADD, .fd = f,
			  .events = EPOLLIN | ET | EPOLLWAKEUP, .data = 3 },
			{ .op = XPOLL_CTL_MOD, .fd = e, .events = EPOLLIN, .data = 3 },
		};
		int32_t res[3] = { 1, 1, 1 };
		struct xpoll_ctl_batch b = { .ctls = (uintptr_t)c,
					     .results = (uintptr_t)res, .nr = 3 };

		ASSERT_EQ(3, ioctl(r.x, XPOLL_IOC_CTL_BATCH, &b));
		EXPECT_EQ(-EINVAL, res[0]);
		EXPECT_EQ(-EINVAL, res[1]);
		EXPECT_EQ(-EINVAL, res[2]);
	}
	/* the failed ADDs took no slot: four items fit */
	EXPECT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, f, EPOLLIN | ET, 3));
	EXPECT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, g, EPOLLIN | ET | EPOLLONESHOT, 4));
	EXPECT_EQ(-ENOSPC, u_add(r.x, 2, EPOLLIN | ET, 5));
	EXPECT_EQ(0, xctl(r.x, XPOLL_CTL_MOD, e, EPOLLIN | ET | EPOLLONESHOT, 6));
	ring_close(&r);
	close(e);
	close(f);
	close(g);
}

static int wakeup_refused(void *arg)
{
	int e = eventfd(0, EFD_FLAGS);
	struct ring r;

	(void)arg;
	if (ring_open(&r, 4))
		return 1;
	if (xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET | EPOLLWAKEUP, 1) != -EINVAL)
		return 2;
	if (u_add(r.x, 1, EPOLLIN | ET | EPOLLWAKEUP, 1) != -EINVAL)
		return 3;
	if (xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1) ||
	    u_add(r.x, 1, EPOLLIN | ET, 2))
		return 4;
	if (xctl(r.x, XPOLL_CTL_MOD, e, EPOLLIN | ET | EPOLLWAKEUP, 1) != -EINVAL)
		return 5;
	if (u_mod(r.x, 1, EPOLLIN | ET | EPOLLWAKEUP, 2) != -EINVAL)
		return 6;
	ring_close(&r);
	close(e);
	return 0;
}

/* EPOLLWAKEUP: EINVAL in ADD and MOD, also where epoll drops it silently. */
TEST(wakeup_refused_root_and_nobody)
{
	RING_REQUIRE();
	EXPECT_EQ(0, wakeup_refused(NULL)) TH_LOG("as uid %d", geteuid());
	EXPECT_EQ(0, as_nobody(wakeup_refused, NULL)) TH_LOG("as uid 65534");
}

/*
 * EPOLLONESHOT: disarmed when the slot is appended, re-armed by MOD
 * (which re-polls, as epoll's), side by side with epoll ET.
 */
TEST(oneshot_disarmed_at_the_append_mod_rearms)
{
	struct dual d;
	const uint32_t OS = EPOLLIN | ET | EPOLLONESHOT;
	uint32_t t0;

	RING_REQUIRE();
	ASSERT_EQ(0, dual_open(&d, 8, 1));
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_ADD, 0, OS, 1));
	t0 = tail_of(&d.r);
	ASSERT_EQ(0, fire(d.fd[0]));
	EXPECT_EQ(t0 + 1, tail_of(&d.r));
	ASSERT_EQ(0, fire(d.fd[0]));	/* disarmed: no second index */
	EXPECT_EQ(t0 + 1, tail_of(&d.r));
	BOTH_ARE(&d, EXP({ 1, EPOLLIN }));
	ASSERT_EQ(0, fire(d.fd[0]));
	EXPECT_EQ(t0 + 1, tail_of(&d.r));
	BOTH_ARE(&d, NONE);
	/* MOD re-arms and re-polls: readable, so appended with the new data */
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_MOD, 0, OS, 2));
	EXPECT_EQ(t0 + 2, tail_of(&d.r));
	BOTH_ARE(&d, EXP({ 2, EPOLLIN }));
	ASSERT_EQ(0, fire(d.fd[0]));
	BOTH_ARE(&d, NONE);
	/* MOD of a drained file appends nothing; the next write does, once */
	drain(d.fd[0]);
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_MOD, 0, OS, 3));
	EXPECT_EQ(t0 + 2, tail_of(&d.r));
	BOTH_ARE(&d, NONE);
	ASSERT_EQ(0, fire(d.fd[0]));
	ASSERT_EQ(0, fire(d.fd[0]));
	EXPECT_EQ(t0 + 3, tail_of(&d.r));
	BOTH_ARE(&d, EXP({ 3, EPOLLIN }));
	/* back to plain ET: every write after a harvest appends again */
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_MOD, 0, EPOLLIN | ET, 4));
	BOTH_ARE(&d, EXP({ 4, EPOLLIN }));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, fire(d.fd[0]));
		BOTH_ARE(&d, EXP({ 4, EPOLLIN }));
	}
	dual_close(&d);
}

struct xwaiter {
	int be, p;
	pid_t tid;
	int got;
};

static void *xwaiter_fn(void *arg)
{
	struct xwaiter *w = arg;
	struct epoll_event ev[4];
	int n;

	__atomic_store_n(&w->tid, gettid_(), __ATOMIC_RELEASE);
	if (w->be == BE_EPOLL)
		n = epoll_wait(w->p, ev, 4, 5000);
	else
		n = rwait(w->p, 4, 5000 * MS);
	__atomic_store_n(&w->got, n > 0 ? n : -1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Four instances (epoll, or ring instances) watch one eventfd with
 * @mode; with @waiters a thread sleeps in a wait on each.  One write:
 * *woken is how many instances got the event (an epoll_wait() that
 * reports it, an index in the ring), *threads how many threads woke
 * by 60 ms after the first.  Each instance also watches an eventfd of its own, to
 * let its thread go afterwards.  0, or the failed step.
 */
static int exclusive_count(int be, uint32_t mode, bool waiters, int *woken,
			   int *threads)
{
	int e = eventfd(0, EFD_FLAGS), own[4], p[4];
	struct xwaiter w[4] = { { 0 } };
	struct ring rr[4];
	pthread_t t[4];
	int ret = 0;

	*woken = *threads = 0;
	for (int i = 0; i < 4; i++) {
		own[i] = eventfd(0, EFD_FLAGS);
		if (be == BE_EPOLL) {
			p[i] = epoll_create1(EPOLL_CLOEXEC);
		} else {
			if (ring_open(&rr[i], 4))
				return 1;
			p[i] = rr[i].x;
		}
		if (pl_ctl(be, p[i], EPOLL_CTL_ADD, e, EPOLLIN | ET | mode, i) ||
		    pl_ctl(be, p[i], EPOLL_CTL_ADD, own[i], EPOLLIN | ET, 100 + i))
			return 2;
		w[i] = (struct xwaiter){ .be = be, .p = p[i] };
		if (waiters && pthread_create(&t[i], NULL, xwaiter_fn, &w[i]))
			return 3;
	}
	/* every thread asleep, twice 20 ms apart (not a page fault's sleep) */
	for (int pass = 0; waiters && pass < 2; pass++) {
		for (int i = 0; i < 4; i++) {
			int j;

			for (j = 0; j < 3000; j++) {
				pid_t tid = __atomic_load_n(&w[i].tid, __ATOMIC_ACQUIRE);

				if (tid && task_sleeping(tid))
					break;
				msleep(1);
			}
			if (j == 3000)
				return 4;
		}
		if (!pass)
			msleep(20);
	}
	if (fire(e))
		return 5;
	/* the first thread wakes; 60 ms more for any other to follow */
	for (int j = 0; waiters && j < 5000; j++) {
		int any = 0;

		for (int i = 0; i < 4; i++)
			any |= __atomic_load_n(&w[i].got, __ATOMIC_ACQUIRE) > 0;
		if (any)
			break;
		msleep(1);
	}
	if (waiters)
		msleep(60);
	for (int i = 0; i < 4; i++) {
		*threads += __atomic_load_n(&w[i].got, __ATOMIC_ACQUIRE) > 0;
		if (be == BE_EPOLL) {	/* a woken thread took the event */
			struct epoll_event ev[4];
			int n = epoll_wait(p[i], ev, 4, 0), got = w[i].got > 0;

			for (int j = 0; j < n; j++)
				got |= ev[j].data.u64 == (uint64_t)i;
			*woken += got;
		} else {
			struct rev ev[8];
			int n = harvest(&rr[i], ev, 8);

			for (int j = 0; j < n; j++)
				*woken += ev[j].data == (uint64_t)i;
		}
		fire(own[i]);	/* lets the thread go, if it still waits */
	}
	for (int i = 0; waiters && i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++) {
		if (be == BE_EPOLL)
			close(p[i]);
		else
			ring_close(&rr[i]);
		close(own[i]);
	}
	close(e);
	return ret;
}

/*
 * EPOLLEXCLUSIVE keeps its meaning for the target's wakeup: with a thread
 * asleep on each of four ring instances, one write to an eventfd they
 * watch exclusively gives an index to one of them and wakes one thread,
 * as it wakes one of four epoll instances (modes.c shows that without
 * exclusive all four wake).  With nobody asleep, epoll queues the event
 * in every instance; so does the ring.  MOD of an exclusive item is EINVAL, as in epoll.
 */
TEST(exclusive_wakes_one_ring_of_four_as_epoll)
{
	static const struct { uint32_t mode; bool waiters; } cases[] = {
		{ EPOLLEXCLUSIVE, true }, { EPOLLEXCLUSIVE, false },
	};
	struct dual d;

	RING_REQUIRE();
	for (unsigned int c = 0; c < 2; c++) {
		int woken[2], threads[2];

		for (int be = 0; be < 2; be++) {
			ASSERT_EQ(0, exclusive_count(be, cases[c].mode, cases[c].waiters,
						     &woken[be], &threads[be]))
				TH_LOG("%s", be_name[be]);
		}
		TH_LOG("%s, %s: instances with the event: epoll %d, ring %d; "
		       "threads woken: epoll %d, ring %d",
		       cases[c].mode ? "exclusive" : "shared",
		       cases[c].waiters ? "a thread asleep on each" : "no waiter",
		       woken[0], woken[1], threads[0], threads[1]);
		EXPECT_EQ(woken[BE_EPOLL], woken[BE_XPOLL]);
		EXPECT_EQ(threads[BE_EPOLL], threads[BE_XPOLL]);
		if (cases[c].waiters) {
			EXPECT_EQ(cases[c].mode ? 1 : 4, woken[BE_XPOLL]);
			EXPECT_EQ(cases[c].mode ? 1 : 4, threads[BE_XPOLL]);
		}
	}

	ASSERT_EQ(0, dual_open(&d, 4, 2));
	EXPECT_EQ(0, d_ctl(&d, EPOLL_CTL_ADD, 0, EPOLLIN | ET | EPOLLEXCLUSIVE, 1));
	EXPECT_EQ(-EINVAL, d_ctl(&d, EPOLL_CTL_MOD, 0, EPOLLIN | ET, 2));
	EXPECT_EQ(-EINVAL, d_ctl(&d, EPOLL_CTL_ADD, 1,
				 EPOLLIN | ET | EPOLLEXCLUSIVE | EPOLLONESHOT, 3));
	dual_close(&d);
}

/* ENOSPC beyond entries items (files and user events); DEL frees a slot. */
TEST(enospc_beyond_entries_and_a_deleted_slot_reused)
{
	int e[6];
	struct ring r;
	int s0, s4;

	RING_REQUIRE();
	for (int i = 0; i < 6; i++)
		e[i] = eventfd(0, EFD_FLAGS);
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e[0], EPOLLIN | ET, 0x10));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e[1], EPOLLIN | ET, 0x11));
	ASSERT_EQ(0, u_add(r.x, 2, EPOLLIN | ET, 0x12));
	ASSERT_EQ(0, u_add(r.x, 3, EPOLLIN | ET, 0x13));
	EXPECT_EQ(-ENOSPC, xctl(r.x, XPOLL_CTL_ADD, e[4], EPOLLIN | ET, 0x14));
	EXPECT_EQ(-ENOSPC, u_add(r.x, 4, EPOLLIN | ET, 0x14));
	/* each item owns one slot: four distinct slots */
	s0 = slot_of(&r, 0x10);
	EXPECT_LE(0, s0);
	EXPECT_LE(0, slot_of(&r, 0x11));
	EXPECT_LE(0, slot_of(&r, 0x12));
	EXPECT_LE(0, slot_of(&r, 0x13));
	/* DEL frees its slot, the next ADD takes it */
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_DEL, e[0], 0, 0));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e[4], EPOLLIN | ET, 0x14));
	s4 = slot_of(&r, 0x14);
	EXPECT_EQ(s0, s4) TH_LOG("the only free slot was %d, ADD took %d", s0, s4);
	EXPECT_EQ(-ENOSPC, xctl(r.x, XPOLL_CTL_ADD, e[0], EPOLLIN | ET, 0x10));
	ASSERT_EQ(0, fire(e[4]));
	ASSERT_EQ(0, fire(e[0]));	/* not watched any more */
	HARVEST_IS(&r, EXP({ 0x14, EPOLLIN }));
	/* a user event's slot: DEL frees it, a file's ADD takes it */
	ASSERT_EQ(0, u_del(r.x, 3));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e[0], EPOLLIN | ET, 0x10));
	EXPECT_EQ(-ENOSPC, u_add(r.x, 5, EPOLLIN | ET, 0x15));
	ASSERT_EQ(0, fire(e[0]));
	ASSERT_EQ(0, fire(e[1]));
	HARVEST_IS(&r, EXP({ 0x10, EPOLLIN }, { 0x11, EPOLLIN }));
	/* closing a watched file frees its slot too */
	close(e[1]);
	e[1] = -1;
	EXPECT_EQ(0, u_add(r.x, 5, EPOLLIN | ET, 0x15));
	EXPECT_EQ(-ENOSPC, xctl(r.x, XPOLL_CTL_ADD, e[5], EPOLLIN | ET, 0x16));
	ring_close(&r);
	for (int i = 0; i < 6; i++)
		if (e[i] >= 0)
			close(e[i]);
}

/* User events in a ring instance: a trigger appends, once per trigger. */
TEST(user_events_in_a_ring_instance)
{
	int other = xp_open(O_CLOEXEC);
	struct ring r;
	uint32_t t0;
	int s;

	RING_REQUIRE();
	ASSERT_LE(0, other);
	ASSERT_EQ(0, ring_open(&r, 8));
	ASSERT_EQ(0, u_add(r.x, 1, EPOLLIN | ET, 0xA1));
	EXPECT_EQ(-EINVAL, u_add(r.x, 2, EPOLLIN, 0xA2));
	/* nothing pending at ADD */
	EXPECT_EQ(0, queued(&r));
	t0 = tail_of(&r);
	ASSERT_EQ(0, u_trig(r.x, 1, EPOLLIN));
	EXPECT_EQ(t0 + 1, tail_of(&r));
	s = slot_of(&r, 0xA1);
	ASSERT_LE(0, s);
	EXPECT_EQ((uint32_t)s, r.ring[t0 & r.mask]);
	EXPECT_EQ(EPOLLIN, r.slots[s].ready);
	ASSERT_EQ(0, u_trig(r.x, 1, EPOLLIN));	/* not harvested: no index */
	EXPECT_EQ(t0 + 1, tail_of(&r));
	HARVEST_IS(&r, EXP({ 0xA1, EPOLLIN }));
	/* edge-triggered: each trigger after a harvest appends again */
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, u_trig(r.x, 1, EPOLLIN));
		HARVEST_IS(&r, EXP({ 0xA1, EPOLLIN }));
	}
	/* CLEAR appends nothing; a trigger outside the interest neither */
	ASSERT_EQ(0, u_clear(r.x, 1, EPOLLIN));
	ASSERT_EQ(0, u_trig(r.x, 1, EPOLLOUT | EPOLLPRI));
	EXPECT_EQ(0, queued(&r));
	HARVEST_IS(&r, NONE);
	/* bits ORed in one index; only those of the interest set */
	ASSERT_EQ(0, u_add(r.x, 3, EPOLLIN | EPOLLOUT | ET, 0xA3));
	ASSERT_EQ(0, u_trig(r.x, 3, EPOLLIN));
	ASSERT_EQ(0, u_trig(r.x, 3, EPOLLOUT | EPOLLPRI));
	EXPECT_EQ(1, queued(&r));
	HARVEST_IS(&r, EXP({ 0xA3, EPOLLIN | EPOLLOUT }));
	/*
	 * (The pending bits are cleared after each step: whether a trigger
	 * puts its own bits or all pending bits of interest into slot.ready
	 * is not said; the steps here give the same answer either way.)
	 */
	ASSERT_EQ(0, u_clear(r.x, 3, XPOLL_USER_BITS));
	ASSERT_EQ(0, u_clear(r.x, 1, XPOLL_USER_BITS));
	/* EPOLLERR and EPOLLHUP are always of interest */
	ASSERT_EQ(0, u_trig(r.x, 1, EPOLLHUP));
	HARVEST_IS(&r, EXP({ 0xA1, EPOLLHUP }));
	ASSERT_EQ(0, u_clear(r.x, 1, XPOLL_USER_BITS));
	/* one-shot: disarmed at the append; a trigger then waits for MOD */
	ASSERT_EQ(0, u_add(r.x, 4, EPOLLIN | ET | EPOLLONESHOT, 0xA4));
	ASSERT_EQ(0, u_trig(r.x, 4, EPOLLIN));
	HARVEST_IS(&r, EXP({ 0xA4, EPOLLIN }));
	ASSERT_EQ(0, u_trig(r.x, 4, EPOLLIN));
	EXPECT_EQ(0, queued(&r));
	ASSERT_EQ(0, u_mod(r.x, 4, EPOLLIN | ET | EPOLLONESHOT, 0xA5));
	HARVEST_IS(&r, EXP({ 0xA5, EPOLLIN }));
	ASSERT_EQ(0, u_trig(r.x, 4, EPOLLIN));
	HARVEST_IS(&r, NONE);
	/* a trigger from another instance, naming the ring instance */
	ASSERT_EQ(0, uctl(other, XPOLL_CTL_TRIGGER, r.x, 3, EPOLLIN, 0));
	HARVEST_IS(&r, EXP({ 0xA3, EPOLLIN }));
	ASSERT_EQ(0, u_clear(r.x, 3, XPOLL_USER_BITS));
	/* DEL of a triggered event: its index is skipped */
	ASSERT_EQ(0, u_trig(r.x, 3, EPOLLIN));
	ASSERT_EQ(0, u_trig(r.x, 1, EPOLLIN));
	ASSERT_EQ(0, u_del(r.x, 3));
	EXPECT_EQ(2, queued(&r));
	HARVEST_IS(&r, EXP({ 0xA1, EPOLLIN }));
	ring_close(&r);
	close(other);
}

/*
 * A waker that passes no event bits (signalfd's wake_up()): the item
 * waits for a re-poll (hdr.repoll 1, no index yet, the instance polls
 * ready), and the wait the consumer then makes posts what epoll's re-poll
 * reports.
 */
TEST(keyless_wakeup_reports_the_interest_set)
{
	const uint32_t interest = EPOLLIN | EPOLLPRI | EPOLLRDNORM | ERRHUP;
	struct pollfd pfd = { 0 };
	struct epoll_event eev;
	sigset_t set;
	struct ring r;
	int sfd, ep, s;

	RING_REQUIRE();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &set, NULL));
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	ASSERT_LE(0, sfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, sfd, interest | ET, 0x5F));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, sfd, interest | ET, 0x5F));
	EXPECT_EQ(0, queued(&r));
	ASSERT_EQ(0, kill(getpid(), SIGUSR2));
	EXPECT_EQ(0, queued(&r));
	EXPECT_EQ(1, ld(&r.hdr->repoll));
	s = slot_of(&r, 0x5F);
	ASSERT_LE(0, s);
	EXPECT_EQ(0, r.slots[s].ready);
	pfd.fd = r.x;
	pfd.events = POLLIN;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	ASSERT_EQ(1, epoll_wait(ep, &eev, 1, 0));
	TH_LOG("epoll ET reports %#x (it re-polls)", eev.events);
	EXPECT_EQ(EPOLLIN, eev.events);
	HARVEST_IS(&r, EXP({ 0x5F, EPOLLIN }));
	EXPECT_EQ(0, ld(&r.hdr->repoll));
	close(ep);
	close(sfd);
	ring_close(&r);
}

/*
 * POLLFREE: a signalfd's wait queue is its poller's sighand's.  A child
 * adds the signalfd (also open in the parent) to the shared ring
 * instance and exits: its sighand goes, with a wakeup of EPOLLHUP |
 * POLLFREE.  The ring gets EPOLLHUP; the item then unhooks nothing that
 * is gone (the debug kernel's KASAN watches the DEL and the close).
 */
TEST(pollfree_of_an_exited_pollers_signalfd)
{
	struct hstat hs = { 0 };
	struct rev ev[4];
	sigset_t set;
	struct ring r;
	int sfd, status, n;
	pid_t pid;

	RING_REQUIRE();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, ring_open(&r, 4));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(xctl(r.x, XPOLL_CTL_ADD, sfd, EPOLLIN | ET, 0x5F2) ? 1 : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	n = harvest_st(&r, ev, 4, &hs);
	ASSERT_EQ(1, n) TH_LOG("no event at the poller's exit");
	TH_LOG("the exited poller's signalfd: bits %#x", ev[0].bits);
	EXPECT_EQ(0x5F2, ev[0].data);
	EXPECT_TRUE(ev[0].bits & EPOLLHUP);
	EXPECT_EQ(0, ev[0].bits & ~(EPOLLIN | EPOLLHUP | EPOLLERR));
	/* the queue is gone: nothing more comes, DEL and close are safe */
	EXPECT_EQ(0, queued(&r));
	EXPECT_EQ(0, xctl(r.x, XPOLL_CTL_DEL, sfd, 0, 0));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, sfd, EPOLLIN | ET, 0x5F3));
	close(sfd);
	EXPECT_EQ(0, queued(&r));
	ring_close(&r);
}

/*
 * Bits of a wakeup outside the interest set are not reported, and one
 * with none of its bits appends nothing: an eventfd's read wakes with
 * EPOLLOUT, a pipe's write with EPOLLIN | EPOLLRDNORM.  (The ring holds
 * the item's interest set; epoll ET reports revents & interest.)  The
 * close of a pipe's writer wakes with no bits: the interest set, without
 * EPOLLHUP.
 */
TEST(wakeup_bits_filtered_by_the_interest_set)
{
	int e = eventfd(0, EFD_FLAGS), p[2], ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event eev;
	struct ring r;

	RING_REQUIRE();
	ASSERT_EQ(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, fire(e));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1));
	HARVEST_IS(&r, EXP({ 1, EPOLLIN }));	/* ADD of a ready file */
	drain(e);	/* wakes with EPOLLOUT */
	EXPECT_EQ(0, queued(&r));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_MOD, e, EPOLLOUT | ET, 2));
	HARVEST_IS(&r, EXP({ 2, EPOLLOUT }));	/* MOD re-polls: writable */
	ASSERT_EQ(0, fire(e));	/* EPOLLIN: not of interest now */
	EXPECT_EQ(0, queued(&r));
	drain(e);
	HARVEST_IS(&r, EXP({ 2, EPOLLOUT }));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, p[0], EPOLLIN | ET, 3));
	ASSERT_EQ(1, write(p[1], "x", 1));
	HARVEST_IS(&r, EXP({ 3, EPOLLIN }));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_MOD, p[0], EPOLLRDNORM | ET, 4));
	HARVEST_IS(&r, EXP({ 4, EPOLLRDNORM }));	/* still readable */
	ASSERT_EQ(1, write(p[1], "x", 1));
	HARVEST_IS(&r, EXP({ 4, EPOLLRDNORM }));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, p[0], EPOLLRDNORM | ET, 4));
	ASSERT_EQ(1, epoll_wait(ep, &eev, 1, 0));
	close(p[1]);	/* pipe_release(): wake_up_interruptible_all(), no bits */
	ASSERT_EQ(1, epoll_wait(ep, &eev, 1, 0));
	TH_LOG("writer closed: epoll ET reports %#x", eev.events);
	/* The wait of the harvest re-polls, as epoll does: EPOLLHUP too. */
	EXPECT_EQ(EPOLLRDNORM | EPOLLHUP, eev.events);
	HARVEST_IS(&r, EXP({ 4, EPOLLRDNORM | EPOLLHUP }));
	close(ep);
	close(p[0]);
	close(e);
	ring_close(&r);
}

/* ==== protocol ==== */

/* An event: an index at the tail, the slot's ready bits, its data. */
TEST(event_is_an_index_with_ready_bits_and_data)
{
	int a = eventfd(0, EFD_FLAGS), b = eventfd(0, EFD_FLAGS);
	const uint64_t da = 0xfedcba9876543210ULL, db = 0x8000000000000001ULL;
	struct rev ev[8];
	uint32_t t0, h0, ia, ib;
	struct hstat hs = { 0 };
	struct ring r;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 8));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, a, EPOLLIN | ET, da));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, b, EPOLLIN | EPOLLRDHUP | ET, db));
	t0 = tail_of(&r);
	h0 = head_of(&r);
	ASSERT_EQ(t0, h0);
	ASSERT_EQ(0, fire(a));
	ASSERT_EQ(t0 + 1, tail_of(&r));
	EXPECT_EQ(h0, head_of(&r));	/* the kernel never moves head */
	ia = r.ring[t0 & r.mask];
	ASSERT_GT(8, ia);
	EXPECT_EQ(EPOLLIN, r.slots[ia].ready);
	EXPECT_EQ(da, r.slots[ia].data);
	EXPECT_EQ(EPOLLIN, r.slots[ia].events & EVBITS & ~ERRHUP)
		TH_LOG("slot events %#x", r.slots[ia].events);
	ASSERT_EQ(0, fire(b));
	ASSERT_EQ(t0 + 2, tail_of(&r));
	ib = r.ring[(t0 + 1) & r.mask];
	ASSERT_GT(8, ib);
	EXPECT_NE(ia, ib);
	EXPECT_EQ(EPOLLIN, r.slots[ib].ready);
	EXPECT_EQ(db, r.slots[ib].data);
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP, r.slots[ib].events & EVBITS & ~ERRHUP)
		TH_LOG("slot events %#x", r.slots[ib].events);
	/* harvested in ring order */
	ASSERT_EQ(2, harvest_st(&r, ev, 8, &hs));
	EXPECT_EQ(da, ev[0].data);
	EXPECT_EQ(db, ev[1].data);
	EXPECT_EQ(0, hs.skipped);
	EXPECT_EQ(t0 + 2, head_of(&r));
	EXPECT_EQ(0, r.slots[ia].ready);
	EXPECT_EQ(0, r.slots[ib].ready);
	ring_close(&r);
	close(a);
	close(b);
}

/* Each item owns one slot from ADD to its removal, with its interest and data. */
TEST(slot_holds_interest_and_data_from_add_on)
{
	int e = eventfd(0, EFD_FLAGS);
	struct ring r;
	int s, u;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | EPOLLPRI | ET,
			  0x1234abcd5678ef01ULL));
	s = slot_of(&r, 0x1234abcd5678ef01ULL);
	ASSERT_LE(0, s) TH_LOG("no slot holds the ADD's data");
	EXPECT_EQ(EPOLLIN | EPOLLPRI, r.slots[s].events & EVBITS & ~ERRHUP)
		TH_LOG("slot events %#x", r.slots[s].events);
	EXPECT_EQ(0, r.slots[s].ready);
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_MOD, e, EPOLLRDNORM | ET | EPOLLONESHOT, 0x77));
	EXPECT_EQ(s, slot_of(&r, 0x77)) TH_LOG("MOD moved the item to another slot");
	EXPECT_EQ(EPOLLRDNORM, r.slots[s].events & EVBITS & ~ERRHUP)
		TH_LOG("slot events %#x", r.slots[s].events);
	ASSERT_EQ(0, u_add(r.x, 5, EPOLLOUT | ET, 0x88));
	u = slot_of(&r, 0x88);
	ASSERT_LE(0, u);
	EXPECT_NE(s, u);
	EXPECT_EQ(EPOLLOUT, r.slots[u].events & EVBITS & ~ERRHUP);
	EXPECT_EQ(0, queued(&r));
	ring_close(&r);
	close(e);
}

/* Events before a harvest: one index, bits ORed; as epoll ET reports them. */
TEST(events_before_a_harvest_one_index_bits_ored)
{
	struct dual d;
	uint32_t t0;

	RING_REQUIRE();
	ASSERT_EQ(0, dual_open(&d, 4, 1));
	t0 = tail_of(&d.r);
	/* ADD polls: an eventfd is writable, appended at once */
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_ADD, 0, EPOLLIN | EPOLLOUT | ET, 7));
	EXPECT_EQ(t0 + 1, tail_of(&d.r));
	ASSERT_EQ(0, fire(d.fd[0]));	/* EPOLLIN */
	drain(d.fd[0]);			/* EPOLLOUT */
	ASSERT_EQ(0, fire(d.fd[0]));	/* EPOLLIN */
	EXPECT_EQ(t0 + 1, tail_of(&d.r));
	BOTH_ARE(&d, EXP({ 7, EPOLLIN | EPOLLOUT }));
	EXPECT_EQ(tail_of(&d.r), head_of(&d.r));
	/* the exchange re-armed it: the wakeup's bits (epoll re-polls) */
	ASSERT_EQ(0, fire(d.fd[0]));
	EXPECT_EQ(t0 + 2, tail_of(&d.r));
	EPOLL_IS(&d, EXP({ 7, EPOLLIN | EPOLLOUT }));
	HARVEST_IS(&d.r, EXP({ 7, EPOLLIN }));
	/*
	 * Readiness gone again by the harvest: epoll ET re-polls and reports
	 * nothing; the ring, which never re-polls, still reports it.
	 */
	drain(d.fd[0]);		/* EPOLLOUT: appended, the interest has it */
	BOTH_ARE(&d, EXP({ 7, EPOLLOUT }));
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_MOD, 0, EPOLLIN | ET, 8));
	BOTH_ARE(&d, NONE);
	ASSERT_EQ(0, fire(d.fd[0]));
	drain(d.fd[0]);
	EPOLL_IS(&d, NONE);
	HARVEST_IS(&d.r, EXP({ 8, EPOLLIN }));
	dual_close(&d);
}

/* After a harvest (the exchange to 0) the next event appends again. */
TEST(harvest_rearms_the_slot)
{
	int e = eventfd(0, EFD_FLAGS);
	struct ring r;
	uint32_t t0, idx;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 2));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0x99));
	t0 = tail_of(&r);
	ASSERT_EQ(0, fire(e));
	idx = r.ring[t0 & r.mask];
	for (uint32_t i = 1; i <= 100; i++) {
		ASSERT_EQ(t0 + i, tail_of(&r));
		ASSERT_EQ(0, fire(e));	/* not harvested yet: no index */
		ASSERT_EQ(t0 + i, tail_of(&r));
		HARVEST_IS(&r, EXP({ 0x99, EPOLLIN }));
		ASSERT_EQ(0, fire(e));
		ASSERT_EQ(idx, r.ring[(t0 + i) & r.mask]);
	}
	EXPECT_EQ(t0 + 101, tail_of(&r));
	EXPECT_EQ(t0 + 100, head_of(&r));
	ring_close(&r);
	close(e);
}

/* DEL clears the slot's ready bits: its index is skipped. */
TEST(del_clears_the_ready_bits)
{
	struct dual d;
	struct hstat hs = { 0 };
	struct rev ev[8];
	int s0, n;

	RING_REQUIRE();
	ASSERT_EQ(0, dual_open(&d, 4, 2));
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_ADD, 0, EPOLLIN | ET, 0xD0));
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_ADD, 1, EPOLLIN | ET, 0xD1));
	s0 = slot_of(&d.r, 0xD0);
	ASSERT_LE(0, s0);
	ASSERT_EQ(0, fire(d.fd[0]));
	ASSERT_EQ(0, fire(d.fd[1]));
	ASSERT_EQ(2, queued(&d.r));
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_DEL, 0, 0, 0));
	EXPECT_EQ(0, d.r.slots[s0].ready);
	EXPECT_EQ(2, queued(&d.r));	/* the index stays, stale */
	n = harvest_st(&d.r, ev, 8, &hs);
	ASSERT_EQ(0, match("ring", ev, n, EXP({ 0xD1, EPOLLIN }), __LINE__));
	EXPECT_EQ(1, hs.skipped);
	EXPECT_EQ(0, queued(&d.r));
	n = ep_harvest(d.ep, ev, 8);	/* epoll's side: the same */
	ASSERT_EQ(0, match("epoll", ev, n, EXP({ 0xD1, EPOLLIN }), __LINE__));
	/* ADD again: a new item; readable, so appended */
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_ADD, 0, EPOLLIN | ET, 0xD2));
	BOTH_ARE(&d, EXP({ 0xD2, EPOLLIN }));
	/*
	 * MOD clears the bits (the old index is skipped) and posts what its
	 * re-poll finds, with the new data: a second index
	 */
	ASSERT_EQ(0, fire(d.fd[0]));
	ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_MOD, 0, EPOLLIN | ET, 0xD3));
	EXPECT_EQ(2, queued(&d.r));
	BOTH_ARE(&d, EXP({ 0xD3, EPOLLIN }));
	dual_close(&d);
}

/* The last close of a watched file clears its ready bits; a dup keeps it. */
TEST(closed_file_clears_the_ready_bits)
{
	struct dual d;
	struct hstat hs = { 0 };
	struct rev ev[8];
	int s0, dupfd, n;

	RING_REQUIRE();
	ASSERT_EQ(0, dual_open(&d, 4, 3));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, d_ctl(&d, EPOLL_CTL_ADD, i, EPOLLIN | ET, 0xC0 + i));
	}
	s0 = slot_of(&d.r, 0xC0);
	ASSERT_LE(0, s0);
	dupfd = dup(d.fd[2]);
	ASSERT_LE(0, dupfd);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, fire(d.fd[i]));
	}
	ASSERT_EQ(3, queued(&d.r));
	close(d.fd[0]);
	d.fd[0] = -1;
	EXPECT_EQ(0, d.r.slots[s0].ready) TH_LOG("right after close() returned");
	close(d.fd[2]);	/* the dup keeps the file, and the item */
	d.fd[2] = dupfd;
	n = harvest_st(&d.r, ev, 8, &hs);
	ASSERT_EQ(0, match("ring", ev, n, EXP({ 0xC1, EPOLLIN }, { 0xC2, EPOLLIN }),
			   __LINE__));
	EXPECT_EQ(1, hs.skipped);
	n = ep_harvest(d.ep, ev, 8);
	ASSERT_EQ(0, match("epoll", ev, n, EXP({ 0xC1, EPOLLIN }, { 0xC2, EPOLLIN }),
			   __LINE__));
	/* the closed file's slot is free again: two items plus two */
	ASSERT_EQ(0, u_add(d.r.x, 1, EPOLLIN | ET, 0xC3));
	ASSERT_EQ(0, u_add(d.r.x, 2, EPOLLIN | ET, 0xC4));
	EXPECT_EQ(-ENOSPC, u_add(d.r.x, 3, EPOLLIN | ET, 0xC5));
	dual_close(&d);
}

/*
 * What epoll ET reports, the ring reports: a random sequence of ADD, MOD
 * (ET, in the second half also ONESHOT), DEL, writes, drains and closes
 * on eventfds, pipes and UNIX sockets, applied to an epoll instance and
 * a ring instance watching the same files; after every few steps both are
 * collected.  Without ONESHOT both give the same events, data and bits.
 * With it the ring may report more (a one-shot item is disarmed at the
 * append, epoll's at the delivery; a MOD between them re-arms differently):
 * then every epoll event must be harvested, and every harvested event be
 * of a watched file with its current data; the extras are logged.
 */
enum { O_EFD, O_PIPE, O_SOCK };
struct obj {
	int kind, fd, wfd;
	bool added;
	uint64_t data;
};

static void obj_open(struct obj *o, int kind)
{
	int p[2];

	o->kind = kind;
	o->added = false;
	if (kind == O_EFD) {
		o->fd = eventfd(0, EFD_FLAGS);
		o->wfd = -1;
	} else if (kind == O_PIPE) {
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
			p[0] = p[1] = -1;
		o->fd = p[0];
		o->wfd = p[1];
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p))
			p[0] = p[1] = -1;
		o->fd = p[0];
		o->wfd = p[1];
	}
}

static void obj_close(struct obj *o)
{
	close(o->fd);
	if (o->wfd >= 0)
		close(o->wfd);
}

static void obj_fire(struct obj *o)
{
	if (o->kind == O_EFD)
		fire(o->fd);
	else if (write(o->wfd, "y", 1) != 1 && errno != EAGAIN)
		fprintf(stderr, "# write: %s\n", strerror(errno));
}

TEST(random_sequence_as_epoll_et)
{
	enum { NOBJ = 16, OPS = 800 };
	static const int kinds[NOBJ] = { O_EFD, O_EFD, O_EFD, O_EFD, O_EFD,
		O_EFD, O_EFD, O_EFD, O_EFD, O_EFD, O_PIPE, O_PIPE, O_PIPE,
		O_SOCK, O_SOCK, O_SOCK };
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)now_ns(), s;
	struct obj o[NOBJ];
	struct ring r;
	int ep, checks = 0, events = 0, extras = 0, bad = 0, ctl_diff = 0;
	uint64_t serial = 1;

	RING_REQUIRE();
	s = seed;
	TH_LOG("seed %#llx", (unsigned long long)seed);
	ASSERT_EQ(0, ring_open(&r, NOBJ));
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < NOBJ; i++) {
		obj_open(&o[i], kinds[i]);
		ASSERT_LE(0, o[i].fd);
	}
	for (int op = 0; op < OPS && bad < 5; op++) {
		bool oneshot_ok = op >= OPS / 2;
		uint64_t x = xs_next(&s);
		struct obj *b = &o[x % NOBJ];
		uint32_t mode = ET | (oneshot_ok && (x >> 8) % 3 == 0 ? EPOLLONESHOT : 0);
		int what = (x >> 16) % 16, re, rr;

		if (what < 3 || what == 15) {		/* ADD or MOD */
			int opn = what == 15 || (what < 3 && b->added && (x >> 20) % 4)
				  ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
			uint64_t d = ((uint64_t)(b - o) << 32) | serial++;

			re = pl_ctl(BE_EPOLL, ep, opn, b->fd, EPOLLIN | mode, d);
			rr = xctl(r.x, opn, b->fd, EPOLLIN | mode, d);
			if (re != rr && ctl_diff++ < 5)
				TH_LOG("op %d: ctl %d: epoll %d, ring %d", op, opn, re, rr);
			if (!re) {
				b->added = true;
				b->data = d;
			}
		} else if (what < 5) {			/* DEL */
			re = pl_ctl(BE_EPOLL, ep, EPOLL_CTL_DEL, b->fd, 0, 0);
			rr = xctl(r.x, EPOLL_CTL_DEL, b->fd, 0, 0);
			if (re != rr && ctl_diff++ < 5)
				TH_LOG("op %d: DEL: epoll %d, ring %d", op, re, rr);
			if (!re)
				b->added = false;
		} else if (what < 11) {			/* an event */
			obj_fire(b);
		} else if (what == 11) {		/* the last close */
			obj_close(b);
			obj_open(b, b->kind);
		} else {				/* collect both */
			struct rev er[64], rv[64];
			int ne = ep_harvest(ep, er, 64), nr = harvest(&r, rv, 64);

			checks++;
			events += ne;
			if (!oneshot_ok) {
				struct exp e[64];

				for (int i = 0; i < ne; i++)
					e[i] = (struct exp){ er[i].data, er[i].bits };
				if (match("ring against epoll", rv, nr, e, ne, __LINE__)) {
					TH_LOG("op %d: the ring differs from epoll", op);
					bad++;
				}
			} else {
				for (int i = 0; i < ne; i++) {
					int j;

					for (j = 0; j < nr; j++)
						if (rv[j].data == er[i].data &&
						    rv[j].bits == er[i].bits)
							break;
					if (j == nr && bad++ < 5)
						TH_LOG("op %d: epoll's {%#llx %#x} not harvested",
						       op, (unsigned long long)er[i].data,
						       er[i].bits);
				}
				for (int j = 0; j < nr; j++) {
					struct obj *ob = &o[(rv[j].data >> 32) % NOBJ];

					if (!ob->added || ob->data != rv[j].data ||
					    rv[j].bits != EPOLLIN) {
						if (bad++ < 5)
							TH_LOG("op %d: ring {%#llx %#x}: no such item",
							       op, (unsigned long long)rv[j].data,
							       rv[j].bits);
					}
				}
				extras += nr - ne;
			}
			/* drained only now: no readiness withdrawn before a harvest */
			for (int i = 0; i < NOBJ; i++)
				if ((xs_next(&s) & 3) == 0)
					drain(o[i].fd);
		}
	}
	TH_LOG("%d collections, %d epoll events, %d more on the ring (one-shot half)",
	       checks, events, extras);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, ctl_diff);
	EXPECT_LT(50, events);
	for (int i = 0; i < NOBJ; i++)
		obj_close(&o[i]);
	close(ep);
	ring_close(&r);
}

/* ==== overflow ==== */

/*
 * A consumer that lags behind DEL and ADD: four stale and live indices
 * fill a ring of 4, a new item's event cannot be indexed, hdr.overflow is
 * set and the bits wait in the slot; the recovery finds every event.
 */
TEST(overflow_from_del_add_churn_and_recovery)
{
	int e[6];
	struct ring r;
	struct hstat hs = { 0 };
	struct rev ev[16];
	uint32_t t0;
	int s4, n;

	RING_REQUIRE();
	for (int i = 0; i < 6; i++)
		e[i] = eventfd(0, EFD_FLAGS);
	ASSERT_EQ(0, ring_open(&r, 4));
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e[i], EPOLLIN | ET, 0x100 + i));
	}
	t0 = tail_of(&r);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, fire(e[i]));
	}
	ASSERT_EQ(t0 + 4, tail_of(&r));
	EXPECT_EQ(0, r.hdr->overflow);
	/* DEL e0 (its index stays), ADD e4 into its slot, fire: no room */
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_DEL, e[0], 0, 0));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e[4], EPOLLIN | ET, 0x104));
	ASSERT_EQ(0, fire(e[4]));
	EXPECT_EQ(t0 + 4, tail_of(&r));
	EXPECT_EQ(1, r.hdr->overflow);
	s4 = slot_of(&r, 0x104);
	ASSERT_LE(0, s4);
	EXPECT_EQ(EPOLLIN, r.slots[s4].ready) TH_LOG("the bits stay in the slot");
	/* more of it: DEL e1, ADD e5, fire */
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_DEL, e[1], 0, 0));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e[5], EPOLLIN | ET, 0x105));
	ASSERT_EQ(0, fire(e[5]));
	EXPECT_EQ(t0 + 4, tail_of(&r));
	/* the recovery: store 0, harvest the ring, take every ready slot */
	n = harvest_st(&r, ev, 16, &hs);
	ASSERT_EQ(0, match("ring", ev, n, EXP({ 0x102, EPOLLIN }, { 0x103, EPOLLIN },
					      { 0x104, EPOLLIN }, { 0x105, EPOLLIN }),
			   __LINE__));
	EXPECT_EQ(1, hs.overflow);
	TH_LOG("recovery: %d skipped, %d found by the scan", hs.skipped, hs.scanned);
	EXPECT_EQ(0, r.hdr->overflow);
	/* and the ring goes on as before */
	ASSERT_EQ(0, fire(e[2]));
	EXPECT_EQ(t0 + 5, tail_of(&r));
	EXPECT_EQ(0, r.hdr->overflow);
	HARVEST_IS(&r, EXP({ 0x102, EPOLLIN }));
	ring_close(&r);
	for (int i = 0; i < 6; i++)
		close(e[i]);
}

/*
 * A consumer that breaks the protocol (takes the bits but leaves head):
 * each event appends again until the ring is full of the same index; then
 * overflow, and another item's bits wait in a slot no index names: only
 * the recovery's scan finds them.
 */
TEST(overflow_from_a_consumer_that_leaves_head)
{
	int a = eventfd(0, EFD_FLAGS), b = eventfd(0, EFD_FLAGS), n;
	struct hstat hs = { 0 };
	struct rev ev[16];
	struct ring r;
	uint32_t t0;
	int s, sb;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, a, EPOLLIN | ET, 0x200));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, b, EPOLLIN | ET, 0x201));
	s = slot_of(&r, 0x200);
	sb = slot_of(&r, 0x201);
	ASSERT_LE(0, s);
	ASSERT_LE(0, sb);
	t0 = tail_of(&r);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, fire(a));
		ASSERT_EQ(t0 + i + 1, tail_of(&r));
		EXPECT_EQ((uint32_t)s, r.ring[(t0 + i) & r.mask]);
		__atomic_store_n(&r.slots[s].ready, 0, __ATOMIC_SEQ_CST);
	}
	EXPECT_EQ(0, r.hdr->overflow);
	ASSERT_EQ(0, fire(b));
	EXPECT_EQ(t0 + 4, tail_of(&r));
	EXPECT_EQ(1, r.hdr->overflow);
	EXPECT_EQ(EPOLLIN, r.slots[sb].ready);
	ASSERT_EQ(0, fire(a));
	EXPECT_EQ(t0 + 4, tail_of(&r));
	EXPECT_EQ(EPOLLIN, r.slots[s].ready);
	n = harvest_st(&r, ev, 16, &hs);
	ASSERT_EQ(0, match("ring", ev, n, EXP({ 0x200, EPOLLIN }, { 0x201, EPOLLIN }),
			   __LINE__));
	EXPECT_EQ(1, hs.scanned);
	EXPECT_EQ(3, hs.skipped);
	EXPECT_EQ(0, r.hdr->overflow);
	/* the ring goes on */
	ASSERT_EQ(0, fire(b));
	EXPECT_EQ(t0 + 5, tail_of(&r));
	HARVEST_IS(&r, EXP({ 0x201, EPOLLIN }));
	ring_close(&r);
	close(a);
	close(b);
}

/*
 * Random ADD / DEL / TRIGGER of 8 user events in a ring of 4, with no
 * harvest for 40 steps: the ring overflows; the recovery finds exactly
 * the events pending (triggered since the last harvest and not deleted),
 * with their current data.
 */
TEST(overflow_random_churn_recovery_finds_every_pending_event)
{
	enum { NK = 8, ROUNDS = 40, STEPS = 40 };
	uint64_t s = 0x1234567ULL ^ (uint64_t)now_ns();
	int overflows = 0, bad = 0, scanned = 0;
	bool added[NK] = { false }, pend[NK] = { false };
	uint64_t data[NK] = { 0 }, serial = 1;
	int nadded = 0;
	struct ring r;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	for (int round = 0; round < ROUNDS && bad < 3; round++) {
		struct rev ev[64];
		struct exp e[NK];
		struct hstat hs;
		int ne = 0, n;

		for (int step = 0; step < STEPS; step++) {
			uint64_t x = xs_next(&s);
			int k = x % NK, res;

			switch ((x >> 8) % 3) {
			case 0:
				if (added[k] || nadded == 4) {
					res = u_del(r.x, k);
					if (res != (added[k] ? 0 : -ENOENT))
						bad++;
					if (added[k])
						nadded--;
					added[k] = pend[k] = false;
					break;
				}
				data[k] = ((uint64_t)k << 32) | serial++;
				if (u_add(r.x, k, EPOLLIN | ET, data[k]))
					bad++;
				added[k] = true;
				nadded++;
				break;
			default:
				res = u_trig(r.x, k, EPOLLIN);
				if (res != (added[k] ? 0 : -ENOENT))
					bad++;
				if (added[k])
					pend[k] = true;
			}
		}
		overflows += r.hdr->overflow != 0;
		for (int k = 0; k < NK; k++)
			if (pend[k]) {
				e[ne++] = (struct exp){ data[k], EPOLLIN };
				pend[k] = false;
			}
		memset(&hs, 0, sizeof(hs));
		n = harvest_st(&r, ev, 64, &hs);
		scanned += hs.scanned;
		if (match("ring", ev, n, e, ne, __LINE__)) {
			TH_LOG("round %d: the recovery missed or invented events", round);
			bad++;
		}
	}
	TH_LOG("%d of %d rounds overflowed, %d events found by the scan",
	       overflows, ROUNDS, scanned);
	EXPECT_EQ(0, bad);
	EXPECT_LT(0, overflows);
	EXPECT_LT(0, scanned);
	ring_close(&r);
}

/* Overflow set with an empty ring: a wait returns 1 at once, poll() POLLIN. */
TEST(overflow_with_an_empty_ring_wakes_wait_and_poll)
{
	int e = eventfd(0, EFD_FLAGS);
	struct hstat hs = { 0 };
	struct rev ev[4];
	struct ring r;
	short re;
	int s;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 1));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0x300));
	s = slot_of(&r, 0x300);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, fire(e));
	__atomic_store_n(&r.slots[s].ready, 0, __ATOMIC_SEQ_CST);
	ASSERT_EQ(0, fire(e));
	ASSERT_EQ(1, r.hdr->overflow);
	/* harvest the ring only, leaving overflow set */
	ASSERT_EQ(1, harvest_ring(&r, ev, 4, &hs));
	ASSERT_EQ(0, queued(&r));
	EXPECT_EQ(1, rwait(r.x, 4, 0));
	EXPECT_EQ(1, rwait(r.x, 4, -1));
	EXPECT_EQ(1, pollin(r.x, 0, &re));
	EXPECT_EQ(POLLIN, re & (POLLIN | POLLERR | POLLHUP | POLLNVAL));
	st(&r.hdr->overflow, 0);
	EXPECT_EQ(0, rwait(r.x, 4, 0));
	EXPECT_EQ(0, pollin(r.x, 0, &re));
	ring_close(&r);
	close(e);
}

/* ==== waiting ==== */

TEST(wait_einval_rules_on_a_ring_instance)
{
	struct epoll_event buf[4];
	int e = eventfd(0, EFD_FLAGS);
	struct xpoll_wait w;
	struct ring r;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 8));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1));
	for (int pass = 0; pass < 2; pass++) {	/* empty ring, then one index */
		EXPECT_EQ(-EINVAL, rwait_full(r.x, (uintptr_t)buf, 4, 0, 0, NULL));
		EXPECT_EQ(-EINVAL, rwait_full(r.x, 1, 4, 0, 0, NULL));
		EXPECT_EQ(-EINVAL, rwait_full(r.x, ~0ULL, 4, -1, 0, NULL));
		EXPECT_EQ(-EINVAL, rwait_full(r.x, 0, 4, 0, 1, NULL));
		EXPECT_EQ(-EINVAL, rwait_full(r.x, 0, 4, -1, 4, NULL));
		EXPECT_EQ(-EINVAL, rwait_full(r.x, 0, 0, 0, 0, NULL));
		EXPECT_EQ(-EINVAL, rwait_full(r.x, 0, -1, 0, 0, NULL));
		w = (struct xpoll_wait){ .maxevents = 4, .flags = 1 };
		EXPECT_EQ(-EINVAL, ioctl(r.x, XPOLL_IOC_WAIT, &w) ? -errno : 0);
		w = (struct xpoll_wait){ .maxevents = 4, .reserved = 1 };
		EXPECT_EQ(-EINVAL, ioctl(r.x, XPOLL_IOC_WAIT, &w) ? -errno : 0);
		w = (struct xpoll_wait){ .maxevents = 4, .min_wait_ns = 1000 };
		EXPECT_EQ(-EINVAL, ioctl(r.x, XPOLL_IOC_WAIT, &w) ? -errno : 0);
		EXPECT_EQ(pass, rwait(r.x, 4, 0));
		ASSERT_EQ(0, fire(e));
	}
	/* the failed waits harvested nothing, stored nothing */
	HARVEST_IS(&r, EXP({ 1, EPOLLIN }));
	ring_close(&r);
	close(e);
}

/* The count of indices in the ring (stale ones too), at most maxevents. */
TEST(wait_returns_the_indices_capped_at_maxevents)
{
	struct rev ev[8];
	struct hstat hs = { 0 };
	struct ring r;
	uint32_t h0, t0;
	int64_t t;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 8));
	for (int k = 0; k < 5; k++) {
		ASSERT_EQ(0, u_add(r.x, k, EPOLLIN | ET, 0x400 + k));
		ASSERT_EQ(0, u_trig(r.x, k, EPOLLIN));
	}
	h0 = head_of(&r);
	t0 = tail_of(&r);
	EXPECT_EQ(5, t0 - h0);
	EXPECT_EQ(3, rwait(r.x, 3, 0));
	EXPECT_EQ(1, rwait(r.x, 1, 0));
	EXPECT_EQ(5, rwait(r.x, 5, 0));
	EXPECT_EQ(5, rwait(r.x, 64, 0));
	t = now_ns();
	EXPECT_EQ(5, rwait(r.x, 64, -1));
	EXPECT_EQ(5, rwait(r.x, 64, 5000 * MS));
	EXPECT_GT(2000 * MS, now_ns() - t);
	/* a wait takes nothing */
	EXPECT_EQ(h0, head_of(&r));
	EXPECT_EQ(t0, tail_of(&r));
	for (int k = 0; k < 5; k++) {
		int sl = slot_of(&r, 0x400 + k);

		ASSERT_LE(0, sl);
		EXPECT_EQ(EPOLLIN, r.slots[sl].ready);
	}
	/* stale indices count: indices, not events */
	ASSERT_EQ(0, u_del(r.x, 0));
	ASSERT_EQ(0, u_del(r.x, 1));
	EXPECT_EQ(5, rwait(r.x, 64, 0));
	/* a partial harvest: the rest */
	ASSERT_EQ(1, harvest_ring(&r, ev, 1, &hs));	/* skips two, takes one */
	EXPECT_EQ(2, rwait(r.x, 64, 0));
	ASSERT_EQ(2, harvest_ring(&r, ev, 8, &hs));
	EXPECT_EQ(0, rwait(r.x, 64, 0));
	EXPECT_EQ(2, hs.skipped);
	ring_close(&r);
}

TEST(wait_times_out_with_0_on_an_empty_ring)
{
	struct ring r;
	int64_t t;
	int e = eventfd(0, EFD_FLAGS);

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1));
	for (int i = 0; i < 2; i++) {
		t = now_ns();
		EXPECT_EQ(0, rwait(r.x, 4, 50 * MS));
		t = now_ns() - t;
		EXPECT_LE(49 * MS, t) TH_LOG("returned after %lld us", (long long)t / 1000);
		EXPECT_GT(3000 * MS, t);
		ASSERT_EQ(0, fire(e));
		EXPECT_EQ(1, rwait(r.x, 4, 50 * MS));
		HARVEST_IS(&r, EXP({ 1, EPOLLIN }));
	}
	ring_close(&r);
	close(e);
}

struct rwaiter {
	int x, max;
	int64_t timeout_ns;
	const sigset_t *mask;
	bool block_usr1;
	int ret;
	int64_t done_ns;
	pid_t tid;
	sigset_t after;
};

static void *rwaiter_fn(void *arg)
{
	struct rwaiter *w = arg;

	if (w->block_usr1) {
		sigset_t s;

		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
	}
	__atomic_store_n(&w->tid, gettid_(), __ATOMIC_RELEASE);
	w->ret = rwait_full(w->x, 0, w->max, w->timeout_ns, 0, w->mask);
	w->done_ns = now_ns();
	pthread_sigmask(SIG_SETMASK, NULL, &w->after);
	return NULL;
}

static bool rwaiter_sleeping(struct rwaiter *w, int ms)
{
	for (int i = 0; i < ms; i++) {
		pid_t tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);

		if (tid)
			return wait_sleeping(tid, ms);
		msleep(1);
	}
	return false;
}

/* A wait sleeps until an event of another thread appends an index. */
TEST(wait_sleeps_and_wakes_on_an_event_of_another_thread)
{
	int e = eventfd(0, EFD_FLAGS);
	struct ring r;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0x500));
	ASSERT_EQ(0, u_add(r.x, 1, EPOLLIN | ET, 0x501));
	for (int round = 0; round < 3; round++) {
		struct rwaiter w = { .x = r.x, .max = 4, .timeout_ns = 5000 * MS };
		pthread_t t;
		int64_t t0;

		ASSERT_EQ(0, pthread_create(&t, NULL, rwaiter_fn, &w));
		ASSERT_TRUE(rwaiter_sleeping(&w, 2000));
		t0 = now_ns();
		if (round == 0) {
			ASSERT_EQ(0, fire(e));
		} else if (round == 1) {
			ASSERT_EQ(0, u_trig(r.x, 1, EPOLLIN));
		} else {	/* an event the interest does not share: no wakeup */
			ASSERT_EQ(0, u_trig(r.x, 1, EPOLLOUT));
		}
		if (round == 2) {
			msleep(100);
			EXPECT_TRUE(task_sleeping(__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE)));
			ASSERT_EQ(0, fire(e));
		}
		ASSERT_EQ(0, pthread_join(t, NULL));
		EXPECT_EQ(1, w.ret) TH_LOG("round %d", round);
		EXPECT_GT(2000 * MS, w.done_ns - t0) TH_LOG("round %d: woken after %lld ms",
							  round, (long long)(w.done_ns - t0) / MS);
		HARVEST_IS(&r, EXP({ round == 1 ? 0x501 : 0x500, EPOLLIN }));
	}
	ring_close(&r);
	close(e);
}

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

/* A signal ends the ring wait with EINTR; the temporary sigmask works. */
TEST(wait_eintr_on_a_signal)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	int e = eventfd(0, EFD_FLAGS);
	sigset_t none;
	struct ring r;

	RING_REQUIRE();
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	sigemptyset(&none);
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0x600));
	for (int pass = 0; pass < 2; pass++) {
		/* pass 1: SIGUSR1 blocked in the thread, unblocked by the wait's mask */
		struct rwaiter w = { .x = r.x, .max = 4, .timeout_ns = -1,
				     .mask = pass ? &none : NULL,
				     .block_usr1 = pass == 1 };
		pthread_t t;

		usr1_seen = 0;
		ASSERT_EQ(0, pthread_create(&t, NULL, rwaiter_fn, &w));
		ASSERT_TRUE(rwaiter_sleeping(&w, 2000));
		ASSERT_EQ(0, pthread_kill(t, SIGUSR1));
		ASSERT_EQ(0, pthread_join(t, NULL));
		EXPECT_EQ(-EINTR, w.ret) TH_LOG("pass %d", pass);
		EXPECT_EQ(1, usr1_seen);
		if (pass == 1) {
			EXPECT_TRUE(sigismember(&w.after, SIGUSR1))
				TH_LOG("the thread's mask was not restored");
		}
	}
	/* the ring still works */
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(1, rwait(r.x, 4, -1));
	HARVEST_IS(&r, EXP({ 0x600, EPOLLIN }));
	ring_close(&r);
	close(e);
}

static int ctl_wait(int x, const struct xpoll_ctl *c, int32_t *res, uint32_t nr,
		    uint32_t *done, uint64_t events, int max, int64_t ns,
		    uint32_t min_events)
{
	struct xpoll_ctl_wait cw = {
		.ctls = (uintptr_t)c, .results = (uintptr_t)res, .nr = nr,
		.nr_done = 12345,
		.wait = { .events = events, .maxevents = max, .timeout_ns = ns,
			  .min_events = min_events },
	};
	int r = ioctl(x, XPOLL_IOC_CTL_WAIT, &cw);

	if (done)
		*done = cw.nr_done;
	return r < 0 ? -errno : r;
}

struct cw_thread {
	int x, ret;
	pid_t tid;
};

static void *cw_fn(void *arg)
{
	struct cw_thread *c = arg;

	__atomic_store_n(&c->tid, gettid_(), __ATOMIC_RELEASE);
	c->ret = ctl_wait(c->x, NULL, NULL, 0, NULL, 0, 4, 5000 * MS, 0);
	return NULL;
}

/* XPOLL_IOC_CTL_WAIT on a ring instance: the changes, then the ring's wait. */
TEST(ctl_wait_changes_then_the_ring_wait)
{
	int e1 = eventfd(0, EFD_FLAGS), e2 = eventfd(0, EFD_FLAGS);
	int e3 = eventfd(0, EFD_FLAGS);
	struct epoll_event buf[4];
	struct cw_thread c = { 0 };
	int32_t res[2] = { 99, 99 };
	struct xpoll_ctl ctls[2];
	struct ring r;
	pthread_t t;
	uint32_t done;
	int64_t t0;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 8));
	ASSERT_EQ(0, u_add(r.x, 1, EPOLLIN | ET, 0x701));
	ASSERT_EQ(0, fire(e1));
	ctls[0] = (struct xpoll_ctl){ .op = XPOLL_CTL_ADD, .fd = e1,
				      .events = EPOLLIN | ET, .data = 0x700 };
	ctls[1] = (struct xpoll_ctl){ .op = XPOLL_CTL_TRIGGER, .fd = -1,
				      .flags = XPOLL_CTL_USER, .key = 1,
				      .events = EPOLLIN };
	t0 = now_ns();
	EXPECT_EQ(2, ctl_wait(r.x, ctls, res, 2, &done, 0, 8, -1, 0));
	EXPECT_GT(2000 * MS, now_ns() - t0);
	EXPECT_EQ(2, done);
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(0, res[1]);
	HARVEST_IS(&r, EXP({ 0x700, EPOLLIN }, { 0x701, EPOLLIN }));
	/* events or min_events not 0: EINVAL, nothing applied */
	ctls[0] = (struct xpoll_ctl){ .op = XPOLL_CTL_ADD, .fd = e2,
				      .events = EPOLLIN | ET, .data = 0x702 };
	EXPECT_EQ(-EINVAL, ctl_wait(r.x, ctls, res, 1, NULL, (uintptr_t)buf, 4, 0, 0));
	EXPECT_EQ(-EINVAL, ctl_wait(r.x, ctls, res, 1, NULL, 0, 4, 0, 1));
	EXPECT_EQ(-ENOENT, xctl(r.x, XPOLL_CTL_DEL, e2, 0, 0))
		TH_LOG("a refused CTL_WAIT applied its change");
	/* a change that fails makes the wait a poll: no sleep */
	ctls[0] = (struct xpoll_ctl){ .op = XPOLL_CTL_ADD, .fd = e3,
				      .events = EPOLLIN, .data = 0x703 };
	t0 = now_ns();
	EXPECT_EQ(0, ctl_wait(r.x, ctls, res, 1, &done, 0, 4, 5000 * MS, 0));
	EXPECT_GT(2000 * MS, now_ns() - t0);
	EXPECT_EQ(-EINVAL, res[0]);
	EXPECT_EQ(1, done);
	/* it sleeps, and wakes on an event */
	c.x = r.x;
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e3, EPOLLIN | ET, 0x703));
	ASSERT_EQ(0, pthread_create(&t, NULL, cw_fn, &c));
	for (int i = 0; i < 2000 && !__atomic_load_n(&c.tid, __ATOMIC_ACQUIRE); i++)
		msleep(1);
	ASSERT_TRUE(wait_sleeping(c.tid, 2000));
	ASSERT_EQ(0, fire(e3));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1, c.ret);
	HARVEST_IS(&r, EXP({ 0x703, EPOLLIN }));
	ring_close(&r);
	close(e1);
	close(e2);
	close(e3);
}

struct bufwaiter {
	int x, ret;
	uint32_t min_events;
	struct epoll_event ev[4];
	pid_t tid;
};

static void *bufwaiter_fn(void *arg)
{
	struct bufwaiter *w = arg;

	memset(w->ev, 0xaa, sizeof(w->ev));
	__atomic_store_n(&w->tid, gettid_(), __ATOMIC_RELEASE);
	w->ret = rwait_full(w->x, (uintptr_t)w->ev, 4, 3000 * MS, w->min_events,
			    NULL);
	return NULL;
}

/*
 * A plain wait (an event buffer; also a minimum-count one) asleep on an
 * empty instance that another thread then turns into a ring instance,
 * and an event comes: the wait must not return a count of events it did
 * not store.  The uapi does not say what it returns; a count > 0 must
 * come with that many events in the buffer, as XPOLL_IOC_WAIT promises.
 */
TEST(plain_wait_begun_before_the_setup)
{
	for (int pass = 0; pass < 2; pass++) {
		struct bufwaiter w = { .min_events = pass };
		int e = eventfd(0, EFD_FLAGS), x = xp_open(O_CLOEXEC), sl;
		struct xpoll_ring_setup rs;
		pthread_t t;
		void *m;

		RING_REQUIRE();
		ASSERT_LE(0, x);
		w.x = x;
		ASSERT_EQ(0, pthread_create(&t, NULL, bufwaiter_fn, &w));
		for (int i = 0; i < 2000 && !__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE); i++)
			msleep(1);
		ASSERT_TRUE(wait_sleeping(w.tid, 2000));
		ASSERT_EQ(0, setup(x, 4, &rs));
		m = map_len(x, rs.mmap_size, MAP_SHARED, 0);
		ASSERT_NE(MAP_FAILED, m);
		ASSERT_EQ(0, xctl(x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0xAB));
		ASSERT_EQ(0, fire(e));
		ASSERT_EQ(0, pthread_join(t, NULL));
		TH_LOG("%s wait begun before the setup returned %d%s%s",
		       pass ? "a minimum-count" : "a plain", w.ret,
		       w.ret < 0 ? " " : "", w.ret < 0 ? strerror(-w.ret) : "");
		for (int i = 0; i < w.ret && i < 4; i++) {
			EXPECT_EQ(0xAB, w.ev[i].data.u64)
				TH_LOG("returned %d, event %d not stored (data %#llx)",
				       w.ret, i, (unsigned long long)w.ev[i].data.u64);
		}
		/* the ring has the event either way */
		sl = slot_of(&(struct ring){ .entries = 4,
			.slots = (void *)((char *)m + rs.slots_off) }, 0xAB);
		ASSERT_LE(0, sl);
		EXPECT_EQ(EPOLLIN, ((struct xpoll_ring_slot *)((char *)m + rs.slots_off))[sl].ready);
		munmap(m, rs.mmap_size);
		close(x);
		close(e);
	}
}

struct poller {
	int fd, ret;
	short revents;
	pid_t tid;
};

static void *poller_fn(void *arg)
{
	struct poller *p = arg;

	__atomic_store_n(&p->tid, gettid_(), __ATOMIC_RELEASE);
	p->ret = pollin(p->fd, 5000, &p->revents);
	return NULL;
}

/* poll() on a ring instance: POLLIN iff an index is in the ring. */
TEST(poll_pollin_iff_the_ring_is_not_empty)
{
	int e = eventfd(0, EFD_FLAGS);
	struct poller p = { 0 };
	struct ring r;
	pthread_t t;
	short re;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0x800));
	EXPECT_EQ(0, pollin(r.x, 0, &re));
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(1, pollin(r.x, 0, &re));
	EXPECT_EQ(POLLIN, re & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
		TH_LOG("revents %#x", re);
	HARVEST_IS(&r, EXP({ 0x800, EPOLLIN }));
	EXPECT_EQ(0, pollin(r.x, 0, &re));
	/* the kernel reads head: one position back, one index in the ring */
	st(&r.hdr->head, head_of(&r) - 1);
	EXPECT_EQ(1, pollin(r.x, 0, &re));
	st(&r.hdr->head, head_of(&r) + 1);
	EXPECT_EQ(0, pollin(r.x, 0, &re));
	/* a stale index counts */
	ASSERT_EQ(0, fire(e));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_DEL, e, 0, 0));
	EXPECT_EQ(1, pollin(r.x, 0, &re));
	HARVEST_IS(&r, NONE);
	EXPECT_EQ(0, pollin(r.x, 0, &re));
	/* a thread asleep in poll() wakes on an append */
	drain(e);
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0x801));
	p.fd = r.x;
	ASSERT_EQ(0, pthread_create(&t, NULL, poller_fn, &p));
	for (int i = 0; i < 2000 && !__atomic_load_n(&p.tid, __ATOMIC_ACQUIRE); i++)
		msleep(1);
	ASSERT_TRUE(wait_sleeping(p.tid, 2000));
	ASSERT_EQ(0, fire(e));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1, p.ret);
	EXPECT_TRUE(p.revents & POLLIN);
	HARVEST_IS(&r, EXP({ 0x801, EPOLLIN }));
	ring_close(&r);
	close(e);
}

/* ==== nesting ==== */

struct pwaiter {
	int be, p, ret;
	struct epoll_event ev[4];
	pid_t tid;
};

static void *pwaiter_fn(void *arg)
{
	struct pwaiter *w = arg;

	__atomic_store_n(&w->tid, gettid_(), __ATOMIC_RELEASE);
	w->ret = pl_wait(w->be, w->p, w->ev, 4, 5000 * MS, NULL);
	return NULL;
}

static bool pwaiter_sleeping(struct pwaiter *w)
{
	for (int i = 0; i < 2000 && !__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE); i++)
		msleep(1);
	return wait_sleeping(w->tid, 2000);
}

/*
 * A ring instance watched by epoll and by an xpoll instance (LT): a
 * thread asleep on each wakes when the ring gets an index; after the
 * harvest neither reports it.  A ring instance watched by another ring
 * instance gets its index there.
 */
TEST(ring_instance_in_epoll_xpoll_and_a_ring)
{
	int e = eventfd(0, EFD_FLAGS), ep = epoll_create1(EPOLL_CLOEXEC);
	int px = xp_open(O_CLOEXEC);
	struct pwaiter we = { .be = BE_EPOLL, .p = ep };
	struct pwaiter wx = { .be = BE_XPOLL, .p = px };
	struct epoll_event ev[4];
	struct ring r, outer;
	pthread_t te, tx;

	RING_REQUIRE();
	ASSERT_LE(0, px);
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, ring_open(&outer, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0x900));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, r.x, EPOLLIN, 0xE));
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, px, EPOLL_CTL_ADD, r.x, EPOLLIN, 0xF));
	ASSERT_EQ(0, xctl(outer.x, XPOLL_CTL_ADD, r.x, EPOLLIN | ET, 0x0E));
	EXPECT_EQ(0, epoll_wait(ep, ev, 4, 0));
	EXPECT_EQ(0, pl_wait(BE_XPOLL, px, ev, 4, 0, NULL));
	EXPECT_EQ(0, queued(&outer));
	ASSERT_EQ(0, pthread_create(&te, NULL, pwaiter_fn, &we));
	ASSERT_EQ(0, pthread_create(&tx, NULL, pwaiter_fn, &wx));
	ASSERT_TRUE(pwaiter_sleeping(&we));
	ASSERT_TRUE(pwaiter_sleeping(&wx));
	ASSERT_EQ(0, fire(e));
	ASSERT_EQ(0, pthread_join(te, NULL));
	ASSERT_EQ(0, pthread_join(tx, NULL));
	EXPECT_EQ(1, we.ret);
	EXPECT_EQ(0xE, we.ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, we.ev[0].events);
	EXPECT_EQ(1, wx.ret);
	EXPECT_EQ(0xF, wx.ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, wx.ev[0].events);
	HARVEST_IS(&outer, EXP({ 0x0E, EPOLLIN }));
	/* level-triggered parents: ready until the harvest */
	EXPECT_EQ(1, epoll_wait(ep, ev, 4, 0));
	EXPECT_EQ(1, pl_wait(BE_XPOLL, px, ev, 4, 0, NULL));
	HARVEST_IS(&r, EXP({ 0x900, EPOLLIN }));
	EXPECT_EQ(0, epoll_wait(ep, ev, 4, 0));
	EXPECT_EQ(0, pl_wait(BE_XPOLL, px, ev, 4, 0, NULL));
	/* the next index: again */
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(1, epoll_wait(ep, ev, 4, 0));
	EXPECT_EQ(1, pl_wait(BE_XPOLL, px, ev, 4, 0, NULL));
	HARVEST_IS(&outer, EXP({ 0x0E, EPOLLIN }));
	HARVEST_IS(&r, EXP({ 0x900, EPOLLIN }));
	ring_close(&outer);
	ring_close(&r);
	close(px);
	close(ep);
	close(e);
}

/*
 * A ring instance watching a plain xpoll instance (ET), beside an epoll
 * instance watching it the same way: the same events.
 */
TEST(ring_instance_watches_an_xpoll_instance_as_epoll)
{
	int e = eventfd(0, EFD_FLAGS), c = xp_open(O_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev[4];
	struct ring r;

	RING_REQUIRE();
	ASSERT_LE(0, c);
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, pl_ctl(BE_XPOLL, c, EPOLL_CTL_ADD, e, EPOLLIN | ET, 5));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, c, EPOLLIN | ET, 0xC));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, c, EPOLLIN | ET, 0xC));
	for (int i = 0; i < 3; i++) {
		struct rev er[4];
		int n;

		ASSERT_EQ(0, fire(e));
		n = ep_harvest(ep, er, 4);
		ASSERT_EQ(0, match("epoll", er, n, EXP({ 0xC, EPOLLIN }), __LINE__));
		HARVEST_IS(&r, EXP({ 0xC, EPOLLIN }));
		/* the child itself reports its eventfd */
		ASSERT_EQ(1, pl_wait(BE_XPOLL, c, ev, 4, 0, NULL));
		EXPECT_EQ(5, ev[0].data.u64);
	}
	ring_close(&r);
	close(ep);
	close(c);
	close(e);
}

/* ==== lifetime ==== */

static bool maps_has_xpoll(void)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, XPOLL_DEVICE))
			found = true;
	fclose(f);
	return found;
}

/*
 * The mapping holds the instance open: with its descriptor closed, events
 * keep coming into the mapping, and epoll still watches it; munmap()
 * releases it (epoll's item goes, the module's count drops).
 */
TEST(mapping_holds_a_closed_instance_until_munmap)
{
	int e = eventfd(0, EFD_FLAGS), ep = epoll_create1(EPOLL_CLOEXEC);
	long ref0 = read_long(REFCNT), ref1, ref2 = -1;
	struct ring r;
	uint32_t t0;
	int items = -1;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 8));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0xA00));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, r.x, EPOLLIN, 0xB));
	ASSERT_EQ(0, close(r.x));
	r.x = -1;
	EXPECT_EQ(1, fdinfo_items(ep)) TH_LOG("the instance was released at close");
	ref1 = read_long(REFCNT);
	t0 = tail_of(&r);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, fire(e));
		EXPECT_EQ(t0 + i + 1, tail_of(&r));
		EXPECT_EQ(1, pollin(ep, 0, NULL));
		HARVEST_IS(&r, EXP({ 0xA00, EPOLLIN }));
	}
	EXPECT_TRUE(maps_has_xpoll());
	ASSERT_EQ(0, munmap(r.mem, r.size));
	r.mem = MAP_FAILED;
	for (int i = 0; i < 100; i++) {
		items = fdinfo_items(ep);
		ref2 = read_long(REFCNT);
		if (items == 0 && (ref0 < 0 || ref2 == ref0))
			break;
		msleep(10);
	}
	EXPECT_EQ(0, items) TH_LOG("epoll still watches the unmapped instance");
	EXPECT_FALSE(maps_has_xpoll());
	if (ref0 >= 0) {
		TH_LOG("module refcnt: %ld before, %ld closed but mapped, %ld unmapped",
		       ref0, ref1, ref2);
		EXPECT_LT(ref0, ref1);
		EXPECT_EQ(ref0, ref2);
	}
	ASSERT_EQ(0, fire(e));	/* nothing there to crash into */
	close(ep);
	close(e);
}

/*
 * A thread asleep in a wait on the instance while its descriptor is
 * closed and its mapping unmapped: the wait still wakes on an event, and
 * the instance goes when the wait returns.
 */
TEST(wait_survives_close_and_munmap)
{
	int e = eventfd(0, EFD_FLAGS), ep = epoll_create1(EPOLL_CLOEXEC);
	struct rwaiter w = { .max = 4, .timeout_ns = 5000 * MS };
	struct ring r;
	pthread_t t;
	int items = -1;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 4));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0xA10));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, r.x, EPOLLIN, 0xB));
	w.x = r.x;
	ASSERT_EQ(0, pthread_create(&t, NULL, rwaiter_fn, &w));
	ASSERT_TRUE(rwaiter_sleeping(&w, 2000));
	ASSERT_EQ(0, close(r.x));
	ASSERT_EQ(0, munmap(r.mem, r.size));
	r.x = -1;
	r.mem = MAP_FAILED;
	msleep(50);
	EXPECT_TRUE(task_sleeping(__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE)));
	ASSERT_EQ(0, fire(e));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1, w.ret);
	for (int i = 0; i < 100; i++) {
		items = fdinfo_items(ep);
		if (!items)
			break;
		msleep(10);
	}
	EXPECT_EQ(0, items) TH_LOG("the instance outlived its last wait");
	ASSERT_EQ(0, fire(e));
	close(ep);
	close(e);
}

/*
 * A mapping cut in two by a partial munmap(): each part holds the
 * instance; the last one unmapped releases it.  MADV_DONTNEED on the
 * mapping hurts only the caller: a new mapping is the same ring.
 */
TEST(partial_munmap_and_madvise)
{
	int e = eventfd(0, EFD_FLAGS), ep = epoll_create1(EPOLL_CLOEXEC);
	size_t pg = page_size();
	struct ring r;
	char *m;
	void *m2;
	int items = -1;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 1024));	/* 6 pages */
	ASSERT_LT(2 * pg, r.size);
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0xA20));
	ASSERT_EQ(0, pl_ctl(BE_EPOLL, ep, EPOLL_CTL_ADD, r.x, EPOLLIN, 0xB));
	ASSERT_EQ(0, fire(e));
	m = r.mem;
	/* MADV_DONTNEED, then a second mapping: the same ring, bits and all */
	EXPECT_EQ(0, madvise(m, r.size, MADV_DONTNEED));
	m2 = map_len(r.x, r.size, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, m2);
	ring_view(&r, m2);
	EXPECT_EQ(1024, r.hdr->entries);
	HARVEST_IS(&r, EXP({ 0xA20, EPOLLIN }));
	/* the first mapping, cut: its first and last pages stay mapped */
	ASSERT_EQ(0, munmap(m + pg, r.size - 2 * pg));
	ASSERT_EQ(0, munmap(m2, r.size));
	ASSERT_EQ(0, close(r.x));
	r.x = -1;
	r.mem = MAP_FAILED;
	EXPECT_EQ(1, fdinfo_items(ep));
	ASSERT_EQ(0, munmap(m, pg));
	EXPECT_EQ(1, fdinfo_items(ep)) TH_LOG("released with a page still mapped");
	ASSERT_EQ(0, munmap(m + r.size - pg, pg));
	for (int i = 0; i < 100; i++) {
		items = fdinfo_items(ep);
		if (!items)
			break;
		msleep(10);
	}
	EXPECT_EQ(0, items);
	close(ep);
	close(e);
}

struct producer {
	int x, nefd, nkeys;
	int efd[16];
	int stop;
	long fired, errors;
	int last_err;
};

static void *producer_fn(void *arg)
{
	struct producer *p = arg;

	for (unsigned int i = 0; !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE); i++) {
		int r;

		if (i % 2 && p->nkeys)
			r = u_trig(p->x, 100 + i / 2 % p->nkeys, EPOLLIN);
		else
			r = fire(p->efd[i / 2 % p->nefd]);
		if (r) {
			p->errors++;
			p->last_err = r;
		} else {
			p->fired++;
		}
		if (i % 64 == 0)
			sched_yield();
	}
	return NULL;
}

/*
 * munmap() and mremap() (moved) while another thread makes events: the
 * new mapping is the same ring (tail never goes back, head as the
 * consumer left it), harvested without overflow or a bad index.
 */
TEST(munmap_and_mremap_while_events_flow)
{
	struct producer p = { .nefd = 16, .nkeys = 8 };
	struct hstat hs = { 0 };
	struct rev ev[64];
	struct ring r;
	pthread_t t;
	uint32_t last_tail;
	long harvested = 0, moves = 0, remaps = 0, unknown = 0;
	int64_t end;

	RING_REQUIRE();
	ASSERT_EQ(0, ring_open(&r, 64));
	p.x = r.x;
	for (int i = 0; i < 16; i++) {
		p.efd[i] = eventfd(0, EFD_FLAGS);
		ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, p.efd[i], EPOLLIN | ET, 0xB00 + i));
	}
	for (int k = 0; k < 8; k++) {
		ASSERT_EQ(0, u_add(r.x, 100 + k, EPOLLIN | ET, 0xC00 + k));
	}
	last_tail = tail_of(&r);
	ASSERT_EQ(0, pthread_create(&t, NULL, producer_fn, &p));
	end = now_ns() + 250 * MS;
	for (int i = 0; now_ns() < end; i++) {
		void *m;

		if (i % 3 == 2) {
			ASSERT_EQ(0, munmap(r.mem, r.size));
			r.mem = MAP_FAILED;
			msleep(1);
			m = map_len(r.x, r.size, MAP_SHARED, 0);
			ASSERT_NE(MAP_FAILED, m);
			remaps++;
		} else {
			void *to = mmap(NULL, r.size, PROT_NONE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			ASSERT_NE(MAP_FAILED, to);
			m = mremap(r.mem, r.size, r.size,
				   MREMAP_MAYMOVE | MREMAP_FIXED, to);
			ASSERT_EQ(to, m) TH_LOG("mremap: %s", strerror(errno));
			moves++;
		}
		ring_view(&r, m);
		ASSERT_EQ(64, r.hdr->entries);
		ASSERT_LE(0, (int32_t)(tail_of(&r) - last_tail))
			TH_LOG("tail went back from %u to %u", last_tail, tail_of(&r));
		last_tail = tail_of(&r);
		for (int j = 0, n; j < 4; j++) {
			n = harvest_st(&r, ev, 64, &hs);
			for (int k = 0; k < n; k++)
				if ((ev[k].data & ~0xffULL) != 0xB00 &&
				    (ev[k].data & ~0xffULL) != 0xC00)
					unknown++;
			harvested += n;
		}
	}
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(t, NULL));
	harvested += harvest_st(&r, ev, 64, &hs);
	TH_LOG("%ld events made, %ld harvested, %ld moves, %ld remaps", p.fired,
	       harvested, moves, remaps);
	EXPECT_EQ(0, p.errors) TH_LOG("producer: %d", p.last_err);
	EXPECT_EQ(0, unknown);
	EXPECT_EQ(0, hs.bad);
	EXPECT_EQ(0, hs.bad_head);
	EXPECT_EQ(0, hs.overflow) TH_LOG("24 items in 64 entries overflowed");
	EXPECT_LT(0, harvested);
	/* a fresh event, in the last mapping */
	ASSERT_EQ(0, fire(p.efd[3]));
	HARVEST_IS(&r, EXP({ 0xB03, EPOLLIN }));
	ring_close(&r);
	for (int i = 0; i < 16; i++)
		close(p.efd[i]);
}

/*
 * fork(): the child's inherited mapping is the same ring: it harvests
 * what the parent's events append, its harvest moves the parent's head,
 * and the parent harvests what the child's events append.
 */
TEST(fork_child_shares_the_ring)
{
	int e1 = eventfd(0, EFD_FLAGS), e2 = eventfd(0, EFD_FLAGS);
	int go[2], back[2], status;
	struct rev got = { 0 };
	struct ring r;
	uint32_t t0;
	pid_t pid;
	char c;

	RING_REQUIRE();
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(back, O_CLOEXEC));
	ASSERT_EQ(0, ring_open(&r, 8));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e1, EPOLLIN | ET, 0xD01));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e2, EPOLLIN | ET, 0xD02));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct rev ev[8];
		int n;

		if (read(go[0], &c, 1) != 1)
			_exit(1);
		/* the parent's event: the wait wakes, the harvest takes it */
		if (rwait(r.x, 8, 5000 * MS) != 1)
			_exit(2);
		n = harvest(&r, ev, 8);
		if (n != 1)
			_exit(3);
		if (write(back[1], &ev[0], sizeof(ev[0])) != sizeof(ev[0]))
			_exit(4);
		if (fire(e2))
			_exit(5);
		_exit(0);
	}
	t0 = tail_of(&r);
	ASSERT_EQ(0, fire(e1));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(sizeof(got), read(back[0], &got, sizeof(got)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child step %d", WEXITSTATUS(status));
	EXPECT_EQ(0xD01, got.data);
	EXPECT_EQ(EPOLLIN, got.bits);
	/* the child's harvest moved the shared head; its event is ours */
	EXPECT_EQ(t0 + 1, head_of(&r));
	EXPECT_EQ(t0 + 2, tail_of(&r));
	HARVEST_IS(&r, EXP({ 0xD02, EPOLLIN }));
	/* the child's exit left the ring working */
	ASSERT_EQ(0, fire(e1));
	HARVEST_IS(&r, EXP({ 0xD01, EPOLLIN }));
	ring_close(&r);
	close(e1);
	close(e2);
}

/* ==== distrust ==== */

FIXTURE(distrust) {
	int unused;
};
FIXTURE_VARIANT(distrust) { bool nobody; };
FIXTURE_VARIANT_ADD(distrust, root) { .nobody = false };
FIXTURE_VARIANT_ADD(distrust, nobody) { .nobody = true };

FIXTURE_SETUP(distrust)
{
	RING_REQUIRE();
	become(variant->nobody, _metadata);
}

FIXTURE_TEARDOWN(distrust)
{
}

/* The "ring:" line of the instance's fdinfo, if any (not in the uapi). */
static const char *fdinfo_ring_line(int x)
{
	static char line[256];
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", x);
	strcpy(line, "(none)");
	f = fopen(path, "re");
	if (!f)
		return line;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "ring:", 5))
			break;
	if (strncmp(line, "ring:", 5))
		strcpy(line, "(none)");
	line[strcspn(line, "\n")] = 0;
	fclose(f);
	return line;
}

struct scribble {
	struct ring *r;
	int stop;
	long sweeps;
};

/* Random bytes over every byte of the mapping, again and again. */
static void *scribbler_fn(void *arg)
{
	struct scribble *s = arg;
	uint64_t x = 0x853c49e6748fea9bULL ^ (uint64_t)now_ns();
	unsigned char *m = s->r->mem;
	size_t size = s->r->size;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		/* a sweep of random words over everything */
		for (size_t off = 0; off + 8 <= size; off += 8)
			__atomic_store_n((uint64_t *)(m + off), xs_next(&x),
					 __ATOMIC_RELAXED);
		/* then random bytes at random places, a few plausible values */
		for (int i = 0; i < 4096; i++) {
			uint64_t v = xs_next(&x);
			size_t off = (v >> 16) % size;

			switch (v & 7) {
			case 0:
				m[off] = 0;
				break;
			case 1:
				__atomic_store_n((uint32_t *)(m + (off & ~3UL)),
						 (uint32_t)(v >> 40) % 512,
						 __ATOMIC_RELAXED);
				break;
			case 2:
				__atomic_store_n((uint32_t *)(m + (off & ~3UL)),
						 0xffffffffU, __ATOMIC_RELAXED);
				break;
			default:
				m[off] = (unsigned char)(v >> 8);
			}
		}
		s->sweeps++;
	}
	return NULL;
}

struct churner {
	struct ring *r;
	int efd[16];
	int stop;
	long ops, unexpected;
	int last;
};

/* ADD / MOD / DEL of eventfds and user events, keeping its own model. */
static void *churner_fn(void *arg)
{
	struct churner *c = arg;
	uint64_t x = 0xdeadbeefULL ^ (uint64_t)now_ns();
	bool added[32] = { false };

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v = xs_next(&x);
		int k = v % 32, op = (v >> 8) % 3, res, want;
		uint32_t ev = EPOLLIN | ET | ((v >> 12) % 4 == 0 ? EPOLLONESHOT : 0);

		if (op == 0 && !added[k]) {
			res = k < 16 ? xctl(c->r->x, XPOLL_CTL_ADD, c->efd[k], ev, k)
				     : u_add(c->r->x, k, ev, k);
			want = 0;
			added[k] = true;
		} else if (op == 1) {
			res = k < 16 ? xctl(c->r->x, XPOLL_CTL_MOD, c->efd[k], ev, k + 64)
				     : u_mod(c->r->x, k, ev, k + 64);
			want = added[k] ? 0 : -ENOENT;
		} else {
			res = k < 16 ? xctl(c->r->x, XPOLL_CTL_DEL, c->efd[k], 0, 0)
				     : u_del(c->r->x, k);
			want = added[k] ? 0 : -ENOENT;
			added[k] = false;
		}
		c->ops++;
		if (res != want) {
			c->unexpected++;
			c->last = res;
		}
	}
	return NULL;
}

struct firer {
	struct churner *c;
	int stop;
	long fired;
};

static void *firer_fn(void *arg)
{
	struct firer *f = arg;

	for (unsigned int i = 0; !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE); i++) {
		if (i % 2)
			fire(f->c->efd[i / 2 % 16]);
		else
			u_trig(f->c->r->x, 16 + i / 2 % 16, EPOLLIN | EPOLLOUT);
		f->fired++;
	}
	return NULL;
}

struct ringwaiter {
	struct ring *r;
	int stop;
	long waits, polls, harvested, odd;
	int odd_ret;
};

/* Waits, polls and harvests (of garbage) while the mapping is scribbled. */
static void *ringwaiter_fn(void *arg)
{
	struct ringwaiter *w = arg;
	struct hstat hs = { 0 };
	struct rev ev[64];

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		int r = rwait(w->r->x, 16, w->waits % 2 ? 1 * MS : 0);

		w->waits++;
		if (r < 0 || r > 16) {
			w->odd++;
			w->odd_ret = r;
		}
		r = pollin(w->r->x, 0, NULL);
		w->polls++;
		if (r < 0 || r > 1) {
			w->odd++;
			w->odd_ret = r;
		}
		w->harvested += harvest_ring(w->r, ev, 64, &hs);
	}
	return NULL;
}

/*
 * The kernel trusts nothing in the mapping: random bytes over all of it
 * (header, slots, ring) while events, ADD/MOD/DEL, waits and polls run.
 * Nothing breaks, the calls answer within their bounds, and after the
 * consumer's reset (head = tail, overflow = 0, every ready bit 0) a fresh
 * item's event is harvested correctly (through the ring or, if the
 * kernel's tail is no longer the one in the header, through the overflow
 * recovery).
 */
TEST_F_TIMEOUT(distrust, scribbler_over_the_whole_mapping, 60)
{
	struct ring r;
	struct scribble s;
	struct churner c = { 0 };
	struct firer f = { .c = &c };
	struct ringwaiter w;
	struct hstat hs = { 0 };
	struct rev ev[300];
	pthread_t ts, tc, tf, tw;
	int fresh = eventfd(0, EFD_FLAGS), n;
	uint32_t tail;

	ASSERT_EQ(0, ring_open(&r, 256));	/* 5,248 bytes: two pages */
	s = (struct scribble){ .r = &r };
	w = (struct ringwaiter){ .r = &r };
	c.r = &r;
	for (int i = 0; i < 16; i++)
		c.efd[i] = eventfd(0, EFD_FLAGS);
	ASSERT_EQ(0, pthread_create(&tc, NULL, churner_fn, &c));
	ASSERT_EQ(0, pthread_create(&tf, NULL, firer_fn, &f));
	ASSERT_EQ(0, pthread_create(&tw, NULL, ringwaiter_fn, &w));
	ASSERT_EQ(0, pthread_create(&ts, NULL, scribbler_fn, &s));
	msleep(250);
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tf, NULL);
	pthread_join(tc, NULL);
	pthread_join(tw, NULL);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ts, NULL);
	TH_LOG("%ld sweeps, %ld ctls, %ld events made, %ld waits, %ld polls, "
	       "%ld harvested", s.sweeps, c.ops, f.fired, w.waits, w.polls,
	       w.harvested);
	EXPECT_LT(0, s.sweeps);
	EXPECT_LT(0, c.ops);
	EXPECT_EQ(0, c.unexpected) TH_LOG("a ctl answered %d against the model", c.last);
	EXPECT_EQ(0, w.odd) TH_LOG("a wait or poll returned %d", w.odd_ret);
	/* the consumer's reset */
	for (int i = 0; i < 16; i++)
		xctl(r.x, XPOLL_CTL_DEL, c.efd[i], 0, 0);
	for (int k = 16; k < 32; k++)
		u_del(r.x, k);
	tail = tail_of(&r);
	TH_LOG("header tail %u; fdinfo (not in the uapi) says: %s", tail,
	       fdinfo_ring_line(r.x));
	st(&r.hdr->head, tail);
	st(&r.hdr->overflow, 0);
	for (uint32_t i = 0; i < r.entries; i++)
		__atomic_store_n(&r.slots[i].ready, 0, __ATOMIC_SEQ_CST);
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, fresh, EPOLLIN | ET, 0xF00D));
	for (int round = 0; round < 2; round++) {
		memset(&hs, 0, sizeof(hs));
		ASSERT_EQ(0, fire(fresh));
		EXPECT_LE(1, rwait(r.x, 4, 1000 * MS));
		n = harvest_st(&r, ev, 300, &hs);
		ASSERT_EQ(0, match("ring", ev, n, EXP({ 0xF00D, EPOLLIN }), __LINE__));
		TH_LOG("fresh event %d: %s (header tail %u, %s)", round,
		       hs.scanned ? "found by the overflow scan" : "through the ring",
		       tail_of(&r), tail_of(&r) == tail ? "as at the reset" : "moved");
	}
	/* and the instance still takes items and user events */
	ASSERT_EQ(0, u_add(r.x, 1000, EPOLLIN | ET, 0xF00E));
	ASSERT_EQ(0, u_trig(r.x, 1000, EPOLLIN));
	HARVEST_IS(&r, EXP({ 0xF00E, EPOLLIN }));
	ring_close(&r);
	for (int i = 0; i < 16; i++)
		close(c.efd[i]);
	close(fresh);
}

/*
 * Hostile heads: ahead of the tail, 2^31 behind it, more than entries
 * behind it.  A wait and poll() still return (a count within maxevents),
 * the ring counts as full (an event sets overflow, its bits stay in the
 * slot), and the reset recovers everything.
 */
TEST_F(distrust, hostile_head)
{
	const uint32_t N = 8;
	int e = eventfd(0, EFD_FLAGS);
	struct ring r;
	uint32_t t0;
	int s;

	ASSERT_EQ(0, ring_open(&r, N));
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 0xBAD));
	s = slot_of(&r, 0xBAD);
	ASSERT_LE(0, s);
	/* a few events so that the tail is not 0 */
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, fire(e));
		HARVEST_IS(&r, EXP({ 0xBAD, EPOLLIN }));
	}
	for (int h = 0; h < 5; h++) {
		static const char *const what[] = { "tail + 1", "tail - 2^31",
			"tail + 2^31 - 1", "tail - entries - 1", "tail - entries" };
		uint32_t heads[5];
		int64_t t;
		int w;

		t0 = tail_of(&r);
		heads[0] = t0 + 1;
		heads[1] = t0 - 0x80000000U;
		heads[2] = t0 + 0x7fffffffU;
		heads[3] = t0 - N - 1;
		heads[4] = t0 - N;
		st(&r.hdr->head, heads[h]);
		w = rwait(r.x, 4, 0);
		EXPECT_TRUE(w >= 0 && w <= 4) TH_LOG("%s: wait(0) %d", what[h], w);
		t = now_ns();
		w = rwait(r.x, 4, 20 * MS);
		EXPECT_TRUE(w >= 0 && w <= 4) TH_LOG("%s: wait(20 ms) %d", what[h], w);
		EXPECT_GT(2000 * MS, now_ns() - t);
		EXPECT_LE(0, pollin(r.x, 0, NULL));
		/* full: the event is not indexed, overflow is set */
		ASSERT_EQ(0, fire(e));
		EXPECT_EQ(t0, tail_of(&r)) TH_LOG("%s: appended", what[h]);
		EXPECT_EQ(1, r.hdr->overflow) TH_LOG("%s", what[h]);
		EXPECT_EQ(EPOLLIN, r.slots[s].ready) TH_LOG("%s", what[h]);
		w = rwait(r.x, 4, 0);
		EXPECT_TRUE(w >= 1 && w <= 4) TH_LOG("%s: wait(0) %d with overflow",
						      what[h], w);
		/* the reset, the recovery */
		st(&r.hdr->head, tail_of(&r));
		HARVEST_IS(&r, EXP({ 0xBAD, EPOLLIN }));
		ASSERT_EQ(0, fire(e));
		EXPECT_EQ(t0 + 1, tail_of(&r)) TH_LOG("%s: not appended after the reset",
						      what[h]);
		HARVEST_IS(&r, EXP({ 0xBAD, EPOLLIN }));
	}
	/* non-zero ready bits left by userspace: the kernel believes it queued */
	t0 = tail_of(&r);
	r.slots[s].ready = 0xdeadbeef;
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(t0, tail_of(&r));
	r.slots[s].ready = 0;
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(t0 + 1, tail_of(&r));
	/* garbage indices in the ring: the consumer's problem only */
	for (uint32_t i = 0; i < N; i++)
		r.ring[i] = 0xffffffffU - i;
	ASSERT_EQ(0, fire(e));	/* still indexed: no new one (not harvested) */
	EXPECT_EQ(t0 + 1, tail_of(&r));
	st(&r.hdr->head, t0 + 1);
	r.slots[s].ready = 0;
	/*
	 * Fields the kernel does not read: the slot's interest set and data,
	 * hdr.entries, hdr.tail (its own tail is what it publishes next).
	 */
	r.slots[s].events = 0;
	r.slots[s].data = 0x5555;
	r.hdr->entries = 0xffffffffU;
	r.hdr->tail = t0 + 12345;
	ASSERT_EQ(0, fire(e));
	EXPECT_EQ(t0 + 2, tail_of(&r)) TH_LOG("the kernel published a tail not its own");
	EXPECT_EQ((uint32_t)s, r.ring[(t0 + 1) & (N - 1)]);
	EXPECT_EQ(EPOLLIN, r.slots[s].ready);
	HARVEST_IS(&r, EXP({ 0x5555, EPOLLIN }));	/* the data is the consumer's own */
	ASSERT_EQ(0, xctl(r.x, XPOLL_CTL_MOD, e, EPOLLIN | ET, 0xBAD));
	HARVEST_IS(&r, EXP({ 0xBAD, EPOLLIN }));	/* MOD re-polls: readable */
	ring_close(&r);
	close(e);
}

/*
 * A setup racing an ADD on a fresh instance: one of them must lose.  The
 * ADD is level-triggered (and without EPOLLET, alternately a file and a
 * user event): if the setup wins first, the ADD is EINVAL; if the ADD
 * wins, the setup is EBUSY.  Both succeeding puts a level-triggered item
 * in a ring instance, which the uapi forbids.
 */
/* Prints /proc/self/fdinfo/<x> as TAP comments. */
static void fdinfo_show(int x)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", x);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "#   fdinfo: %s", line);
	fclose(f);
}

struct race {
	pthread_barrier_t go, done;
	int x, e, round, stop;
	int setup_ret, add_ret;
};

static void *race_setup_fn(void *arg)
{
	struct race *r = arg;
	struct xpoll_ring_setup rs;

	for (;;) {
		pthread_barrier_wait(&r->go);
		if (r->stop)
			return NULL;
		r->setup_ret = setup(r->x, 1U << 16, &rs);
		pthread_barrier_wait(&r->done);
	}
}

static void *race_add_fn(void *arg)
{
	struct race *r = arg;

	for (;;) {
		pthread_barrier_wait(&r->go);
		if (r->stop)
			return NULL;
		/* a delay that sweeps the setup's time under its mutex */
		for (int64_t t = now_ns() + (r->round * 7919 % 400) * 1000;
		     now_ns() < t;)
			;
		if (r->round % 2)
			r->add_ret = u_add(r->x, 1, EPOLLIN, 1);
		else
			r->add_ret = xctl(r->x, XPOLL_CTL_ADD, r->e, EPOLLIN, 1);
		pthread_barrier_wait(&r->done);
	}
}

TEST(setup_racing_an_add_admits_no_level_triggered_item)
{
	struct race r = { .e = eventfd(0, EFD_FLAGS) };
	int both = 0, setup_won = 0, add_won = 0, other = 0, first = -1;
	pthread_t ts, ta;
	int64_t end;

	RING_REQUIRE();
	ASSERT_EQ(0, pthread_barrier_init(&r.go, NULL, 3));
	ASSERT_EQ(0, pthread_barrier_init(&r.done, NULL, 3));
	ASSERT_EQ(0, pthread_create(&ts, NULL, race_setup_fn, &r));
	ASSERT_EQ(0, pthread_create(&ta, NULL, race_add_fn, &r));
	end = now_ns() + 300 * MS;
	for (r.round = 0; r.round < 2000 && now_ns() < end && both < 3; r.round++) {
		r.x = xp_open(O_CLOEXEC);
		pthread_barrier_wait(&r.go);
		pthread_barrier_wait(&r.done);
		if (!r.setup_ret && !r.add_ret) {
			if (!both++) {
				first = r.round;
				fdinfo_show(r.x);
			}
		} else if (!r.setup_ret && r.add_ret == -EINVAL) {
			setup_won++;
		} else if (r.setup_ret == -EBUSY && !r.add_ret) {
			add_won++;
		} else {
			other++;
		}
		close(r.x);
	}
	r.stop = 1;
	pthread_barrier_wait(&r.go);
	pthread_join(ts, NULL);
	pthread_join(ta, NULL);
	TH_LOG("%d rounds: setup first %d, ADD first %d, both accepted %d "
	       "(first in round %d, %s), other %d", r.round, setup_won, add_won,
	       both, first, first % 2 ? "a user event" : "a file", other);
	EXPECT_EQ(0, both) TH_LOG("a level-triggered item got into a ring instance");
	EXPECT_EQ(0, other);
	close(r.e);
}

/* ==== RLIMIT_MEMLOCK ==== */

#define MEMLOCK_LIMIT (64 << 10)

/* Returns 0 or the failed step; as uid 65534, RLIMIT_MEMLOCK 64 KiB. */
static int memlock_steps(void *arg)
{
	struct xpoll_ring_setup rs;
	struct ring a, b;
	int x, y, r;

	(void)arg;
	/* 4096 entries: 82,048 bytes; 2048: 41,088 (11 pages) */
	x = xp_open(O_CLOEXEC);
	if (x < 0)
		return 2;
	if (setup(x, 4096, &rs) != -ENOMEM)
		return 3;
	if (setup(x, 1024, &rs))	/* the ENOMEM left no ring behind */
		return 4;
	close(x);
	if (ring_open(&a, 2048))
		return 5;
	y = xp_open(O_CLOEXEC);
	r = setup(y, 2048, &rs);
	if (r != -ENOMEM)	/* 22 pages charged: above 16 */
		return r ? 6 : 7;
	close(a.x);
	a.x = -1;
	if (setup(y, 2048, &rs) != -ENOMEM)	/* the mapping holds it */
		return 8;
	munmap(a.mem, a.size);
	for (int i = 0; i < 100; i++) {
		r = setup(y, 2048, &rs);
		if (r != -ENOMEM)
			break;
		msleep(10);
	}
	if (r)
		return 9;	/* the charge was not given back at munmap */
	close(y);
	/* set up, mapped, used, released, four times: nothing accumulates */
	for (int i = 0; i < 4; i++) {
		int e = eventfd(0, EFD_FLAGS);

		if (ring_open(&b, 2048))
			return 10;
		if (xctl(b.x, XPOLL_CTL_ADD, e, EPOLLIN | ET, 1) || fire(e))
			return 11;
		if (i % 2)
			close(e);	/* a watched file closed before */
		ring_close(&b);
		if (!(i % 2))
			close(e);
	}
	/* set up, never mapped, closed: given back too */
	for (int i = 0; i < 4; i++) {
		x = xp_open(O_CLOEXEC);
		if (setup(x, 2048, &rs))
			return 12;
		close(x);
	}
	return 0;
}

static int memlock_as_nobody(void *arg)
{
	struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 1;
	return memlock_steps(arg);
}

/*
 * RLIMIT_MEMLOCK: uid 65534 with 64 KiB cannot set up a ring whose mapping
 * is above it (ENOMEM), can set up a small one, two of them add up, and
 * the charge comes back when the instance is released (after its
 * descriptor is closed and its mapping unmapped).
 */
TEST(memlock_charged_to_uid_65534_and_given_back)
{
	int r;

	RING_REQUIRE();
	ASSERT_EQ(4096, page_size()) TH_LOG("the page counts assume 4 KiB pages");
	r = as_nobody(memlock_as_nobody, NULL);
	EXPECT_EQ(0, r) TH_LOG("step %d failed (3: 4096 entries not ENOMEM; "
			       "4: 1024 refused after it; 6-7: a second 2048 not "
			       "ENOMEM; 8: freed while mapped; 9: not given back "
			       "at munmap; 10-12: the charge leaked)", r);
}

/* Root (CAP_IPC_LOCK) is not charged. */
TEST(memlock_not_charged_with_cap_ipc_lock)
{
	struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };
	struct ring a, b;

	RING_REQUIRE();
	if (geteuid() != 0)
		SKIP(return, "root needed");
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	EXPECT_EQ(0, ring_open(&a, 4096));
	EXPECT_EQ(0, ring_open(&b, 4096));
	ring_close(&a);
	ring_close(&b);
}

/* ==== memory cgroup ==== */

#define CG_ROOT "/sys/fs/cgroup"

static long cg_current(const char *cg)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	return read_long(path);
}

/*
 * In a fresh memory cgroup: memory.current before the setup of a ring
 * of 2^15 entries (655,488 bytes), after it, after the release.
 */
static int cg_ring_steps(const char *cg, long *out)
{
	char path[256], me[32];
	struct xpoll_ring_setup rs;
	int x;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(me, sizeof(me), "%d", getpid());
	if (write_str(path, me))
		return 1;
	x = xp_open(O_CLOEXEC);
	if (x < 0)
		return 2;
	out[0] = cg_current(cg);
	if (setup(x, 1U << 15, &rs))
		return 3;
	out[1] = cg_current(cg);
	close(x);
	for (int i = 0; i < 100; i++) {
		out[2] = cg_current(cg);
		if (out[1] - out[2] >= (1 << 19))
			break;
		msleep(10);
	}
	return 0;
}

/* The ring's memory is charged to the caller's memory cgroup. */
TEST(ring_charged_to_the_memory_cgroup)
{
	long v[3] = { -1, -1, -1 };
	int pp[2], status;
	char cg[128], ctl[256];
	pid_t pid;

	RING_REQUIRE();
	if (access(CG_ROOT "/cgroup.controllers", F_OK))
		SKIP(return, "no cgroup2 at %s", CG_ROOT);
	write_str(CG_ROOT "/cgroup.subtree_control", "+memory");
	snprintf(cg, sizeof(cg), CG_ROOT "/xpoll-ring-%d", getpid());
	if (mkdir(cg, 0755))
		SKIP(return, "mkdir %s: %s", cg, strerror(errno));
	snprintf(ctl, sizeof(ctl), "%s/memory.current", cg);
	if (access(ctl, F_OK)) {
		rmdir(cg);
		SKIP(return, "memory controller not available");
	}
	ASSERT_EQ(0, pipe(pp));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int r = cg_ring_steps(cg, v);

		if (write(pp[1], v, sizeof(v)) != sizeof(v))
			_exit(9);
		_exit(r);
	}
	close(pp[1]);
	EXPECT_EQ(sizeof(v), read(pp[0], v, sizeof(v)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	rmdir(cg);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("step %d", WEXITSTATUS(status));
	TH_LOG("memory.current: %ld before the setup, +%ld after it, -%ld after "
	       "the release", v[0], v[1] - v[0], v[1] - v[2]);
	/* memory.current moves in per-CPU batches: 512 KiB of the 640 */
	EXPECT_LE(1L << 19, v[1] - v[0]);
	EXPECT_LE(1L << 19, v[1] - v[2]);
}

/* ==== several harvesters ==== */

enum { MT_KEYS = 64, MT_HARVESTERS = 3 };

struct mt {
	struct ring r;
	int efd[MT_KEYS / 2];
	int inflight[MT_KEYS];
	long triggered[MT_KEYS], harvested[MT_KEYS];
	long dup, unknown, bad, errors, total;
	int stop_prod, stop_harv;
	int last_err;
};

struct mt_prod {
	struct mt *m;
	int id;
};

/*
 * A producer owns the keys k with k % 2 == id: it fires key k only when
 * its previous event was harvested (inflight 0), so each event it makes
 * appends exactly one index.
 */
static void *mt_prod_fn(void *arg)
{
	struct mt_prod *p = arg;
	struct mt *m = p->m;

	while (!__atomic_load_n(&m->stop_prod, __ATOMIC_ACQUIRE)) {
		bool any = false;

		for (int k = p->id; k < MT_KEYS; k += 2) {
			int r;

			if (__atomic_load_n(&m->inflight[k], __ATOMIC_ACQUIRE))
				continue;
			any = true;
			__atomic_store_n(&m->inflight[k], 1, __ATOMIC_SEQ_CST);
			m->triggered[k]++;
			r = k < MT_KEYS / 2 ? u_trig(m->r.x, k, EPOLLIN)
					    : fire(m->efd[k - MT_KEYS / 2]);
			if (r) {
				__atomic_add_fetch(&m->errors, 1, __ATOMIC_RELAXED);
				m->last_err = r;
			}
		}
		if (!any)
			sched_yield();
	}
	return NULL;
}

static void *mt_harv_fn(void *arg)
{
	struct mt *m = arg;
	struct rev ev[16];
	long bad = 0;

	while (!__atomic_load_n(&m->stop_harv, __ATOMIC_ACQUIRE)) {
		int n = harvest_cas(&m->r, ev, 16, &bad);

		for (int i = 0; i < n; i++) {
			uint64_t k = ev[i].data;

			if (k >= MT_KEYS || ev[i].bits != EPOLLIN) {
				__atomic_add_fetch(&m->unknown, 1, __ATOMIC_RELAXED);
				continue;
			}
			__atomic_add_fetch(&m->harvested[k], 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&m->total, 1, __ATOMIC_RELAXED);
			if (!__atomic_exchange_n(&m->inflight[k], 0, __ATOMIC_SEQ_CST))
				__atomic_add_fetch(&m->dup, 1, __ATOMIC_RELAXED);
		}
		if (!n && rwait(m->r.x, 1, 2 * MS) < 0)
			__atomic_add_fetch(&m->errors, 1, __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&m->bad, bad, __ATOMIC_RELAXED);
	return NULL;
}

/*
 * Three threads harvest with a compare-and-swap on head while two
 * threads make events on 64 items (user events and eventfds): every
 * event is harvested exactly once (per key: as many harvests as events
 * made, and never one while none was in flight).
 */
TEST(several_harvesters_each_event_once)
{
	struct mt *m = calloc(1, sizeof(*m));
	struct mt_prod pp[2];
	pthread_t tp[2], th[MT_HARVESTERS];
	long made = 0, mismatched = 0;
	int64_t end;

	RING_REQUIRE();
	ASSERT_NE(NULL, m);
	ASSERT_EQ(0, ring_open(&m->r, 128));
	for (int k = 0; k < MT_KEYS / 2; k++) {
		ASSERT_EQ(0, u_add(m->r.x, k, EPOLLIN | ET, k));
		m->efd[k] = eventfd(0, EFD_FLAGS);
		ASSERT_EQ(0, xctl(m->r.x, XPOLL_CTL_ADD, m->efd[k], EPOLLIN | ET,
				  k + MT_KEYS / 2));
	}
	for (int i = 0; i < MT_HARVESTERS; i++) {
		ASSERT_EQ(0, pthread_create(&th[i], NULL, mt_harv_fn, m));
	}
	for (int i = 0; i < 2; i++) {
		pp[i] = (struct mt_prod){ .m = m, .id = i };
		ASSERT_EQ(0, pthread_create(&tp[i], NULL, mt_prod_fn, &pp[i]));
	}
	end = now_ns() + 250 * MS;
	while (now_ns() < end && __atomic_load_n(&m->total, __ATOMIC_RELAXED) < 4000)
		msleep(10);
	__atomic_store_n(&m->stop_prod, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(tp[i], NULL);
	/* let the harvesters take what is in flight */
	end = now_ns() + 2000 * MS;
	for (;;) {
		int left = 0;

		for (int k = 0; k < MT_KEYS; k++)
			left += __atomic_load_n(&m->inflight[k], __ATOMIC_ACQUIRE);
		if (!left || now_ns() > end)
			break;
		msleep(5);
	}
	__atomic_store_n(&m->stop_harv, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < MT_HARVESTERS; i++)
		pthread_join(th[i], NULL);
	for (int k = 0; k < MT_KEYS; k++) {
		made += m->triggered[k];
		if (m->triggered[k] != m->harvested[k] && mismatched++ < 5)
			TH_LOG("key %d: %ld events made, %ld harvested", k,
			       m->triggered[k], m->harvested[k]);
	}
	TH_LOG("%ld events made, %ld harvested by %d threads", made, m->total,
	       MT_HARVESTERS);
	EXPECT_EQ(0, mismatched);
	EXPECT_EQ(0, m->dup);
	EXPECT_EQ(0, m->unknown);
	EXPECT_EQ(0, m->bad);
	EXPECT_EQ(0, m->errors) TH_LOG("last error %d", m->last_err);
	EXPECT_EQ(0, m->r.hdr->overflow);
	EXPECT_LT(MT_KEYS, made);
	ring_close(&m->r);
	for (int k = 0; k < MT_KEYS / 2; k++)
		close(m->efd[k]);
	free(m);
}

XP_NO_HOOK
XP_MAIN
