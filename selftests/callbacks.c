// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 2: the wakeup callbacks.  An entry on every wait queue a
 * target registers, filtering by the item's mask, one queueing per item,
 * blocked waiters and pollers of the instance woken, and POLLFREE (the
 * signalfd wait queue dies with its sighand while the file lives on),
 * and io_uring's EPOLL_URING_WAKE mark passed on to the instance's pollers.
 */
#include "xp_test.h"
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/signalfd.h>

FIXTURE(cb) { int be, p; };
XP_BACKENDS(cb);

FIXTURE_SETUP(cb)
{
	XP_REQUIRE(variant->be);
	self->be = variant->be;
	self->p = pl_create(self->be, 1);
	ASSERT_LE(0, self->p) TH_LOG("%s", strerror(-self->p));
}

FIXTURE_TEARDOWN(cb)
{
	close(self->p);
}

#define CTL(op, fd, ev, d) pl_ctl(self->be, self->p, op, fd, ev, d)
#define POLL0(ev) pl_poll0(self->be, self->p, ev)

static char buf[1 << 16];

/*
 * A pipe opened O_RDWR polls on two wait queues (readers' and writers').
 * In ET each edge comes through a different queue: both must be hooked.
 */
TEST_F(cb, two_wait_queues_of_one_file)
{
	struct epoll_event ev[4];
	char path[64];
	int fds[2], rw;

	ASSERT_EQ(0, pipe2(fds, O_CLOEXEC));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	rw = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, rw);
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, rw, EPOLLIN | EPOLLOUT | EPOLLET, 1));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLOUT, ev[0].events);
	ASSERT_EQ(0, POLL0(ev));
	/* edge on the readers' queue */
	ASSERT_EQ(1, write(fds[1], "x", 1));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN | EPOLLOUT, ev[0].events);
	/* fill it: no longer writable */
	while (write(rw, buf, sizeof(buf)) > 0)
		;
	ASSERT_EQ(1, POLL0(ev));	/* the writes were IN edges */
	EXPECT_EQ(EPOLLIN, ev[0].events);
	ASSERT_EQ(0, POLL0(ev));
	/* edge on the writers' queue only */
	ASSERT_EQ(4096, read(fds[0], buf, 4096));
	ASSERT_EQ(1, POLL0(ev)) TH_LOG("writers' wait queue not hooked");
	EXPECT_EQ(EPOLLIN | EPOLLOUT, ev[0].events);
	close(rw);
	close(fds[0]);
	close(fds[1]);
}

/*
 * A wakeup whose key has no bit of the item's mask must not queue it.
 * a[0] has unread data (IN) and is watched ET for IN; the peer reading
 * a[0]'s own sent data wakes a[0] with an OUT-only key.  Queued anyway,
 * the re-poll would find IN and report it.
 */
TEST_F(cb, callback_filters_by_event_mask)
{
	struct epoll_event ev[4];
	int a[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a));
	set_nonblock(a[1]);
	ASSERT_EQ(5, write(a[1], "hello", 5));		/* a[0]: IN */
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, a[0], EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(1, POLL0(ev));
	ASSERT_EQ(0, POLL0(ev));
	ASSERT_EQ(5, write(a[0], "world", 5));		/* a[0] sends */
	ASSERT_EQ(0, POLL0(ev));
	ASSERT_EQ(5, read(a[1], buf, 5));		/* OUT wakeup on a[0] */
	ASSERT_EQ(0, POLL0(ev)) TH_LOG("queued by a wakeup outside its mask");
	/* while a wakeup inside the mask does */
	ASSERT_EQ(1, write(a[1], "!", 1));
	ASSERT_EQ(1, POLL0(ev));
	close(a[0]);
	close(a[1]);
}

TEST_F(cb, many_wakeups_queue_the_item_once)
{
	struct epoll_event ev[8];
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 1));
	for (int i = 0; i < 50; i++)
		ASSERT_EQ(8, write(efd, &one, 8));
	ASSERT_EQ(1, POLL0(ev));
	close(efd);
}

struct bw {
	int be, p;
	pid_t tid;
	int ret;
	int64_t t_ret;
};

static void *bw_fn(void *arg)
{
	struct bw *b = arg;
	struct epoll_event ev[4];

	b->tid = gettid_();
	b->ret = pl_wait(b->be, b->p, ev, 4, 10000000000LL, NULL);
	b->t_ret = now_ns();
	return NULL;
}

TEST_F_TIMEOUT(cb, blocked_waiter_is_woken, 30)
{
	struct bw b = { .be = self->be, .p = self->p };
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_t th;
	int64_t t0;

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 1));
	pthread_create(&th, NULL, bw_fn, &b);
	while (!b.tid)
		msleep(1);
	ASSERT_TRUE(wait_sleeping(b.tid, 2000));
	t0 = now_ns();
	ASSERT_EQ(8, write(efd, &one, 8));
	pthread_join(th, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_GT(1000000000LL, b.t_ret - t0);
	close(efd);
}

struct pw {
	int fd;
	pid_t tid;
	int ret;
	short revents;
};

static void *pw_fn(void *arg)
{
	struct pw *w = arg;
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN };

	w->tid = gettid_();
	w->ret = poll(&pfd, 1, 10000);
	w->revents = pfd.revents;
	return NULL;
}

TEST_F_TIMEOUT(cb, poller_of_the_instance_is_woken, 30)
{
	struct pw w = { .fd = self->p };
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_t th;

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 1));
	pthread_create(&th, NULL, pw_fn, &w);
	while (!w.tid)
		msleep(1);
	ASSERT_TRUE(wait_sleeping(w.tid, 2000));
	ASSERT_EQ(8, write(efd, &one, 8));
	pthread_join(th, NULL);
	EXPECT_EQ(1, w.ret);
	EXPECT_EQ(POLLIN, w.revents);
	close(efd);
}

/*
 * POLLFREE: signalfd's poll hooks the *caller's* sighand queue.  A child
 * adds the (shared) signalfd to the (shared) instance and exits: its
 * sighand, and the wait queue the item hangs on, are freed while the file
 * and the item live on.  KASAN in the debug guest catches a
 * use-after-free; the test checks the item still behaves: silent, MOD
 * re-polls it (for the parent now), DEL works.
 */
static void pollfree_child(struct __test_metadata *_metadata, int be, int p,
			   int sfd, uint32_t mode)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(pl_ctl(be, p, EPOLL_CTL_ADD, sfd, EPOLLIN | mode, 77) ? 1 : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
}

TEST_F(cb, pollfree_signalfd_whose_process_exits)
{
	struct epoll_event ev[4];
	sigset_t m;
	int sfd;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &m, NULL));
	sfd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	ASSERT_LE(0, sfd);
	pollfree_child(_metadata, self->be, self->p, sfd, 0);
	/* the queue is gone: a signal to us wakes nothing of it */
	ASSERT_EQ(0, POLL0(ev));
	raise(SIGUSR1);
	ASSERT_EQ(0, POLL0(ev));
	/* MOD polls again, from this process: SIGUSR1 is pending */
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, sfd, EPOLLIN, 78));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(78, ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, ev[0].events);
	ASSERT_EQ(0, CTL(EPOLL_CTL_DEL, sfd, 0, 0));
	ASSERT_EQ(0, POLL0(ev));
	close(sfd);
}

TEST_F(cb, pollfree_then_close_everything)
{
	sigset_t m;
	int sfd;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &m, NULL));
	sfd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	ASSERT_LE(0, sfd);
	for (int i = 0; i < 20; i++) {
		pollfree_child(_metadata, self->be, self->p, sfd, i & 1 ? EPOLLET : 0);
		if (i < 19) {
			ASSERT_EQ(0, CTL(EPOLL_CTL_DEL, sfd, 0, 0));
		}
	}
	/* item still registered; release paths run on a dead queue */
	close(sfd);
	close(self->p);
	self->p = pl_create(self->be, 1);
	ASSERT_LE(0, self->p);
}

/* A thread with its own sighand (clone without CLONE_SIGHAND) adds the
 * signalfd and exits: the same POLLFREE in the middle of a live process,
 * with the instance being waited on by another thread meanwhile. */
static int clone_adder(void *arg)
{
	int *a = arg;

	return pl_ctl(a[0], a[1], EPOLL_CTL_ADD, a[2], EPOLLIN, 5) ? 1 : 0;
}

TEST_F_TIMEOUT(cb, pollfree_from_a_thread_with_own_sighand, 30)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct bw b = { .be = self->be, .p = self->p };
	int args[3], status;
	pthread_t th;
	sigset_t m;
	pid_t pid;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &m, NULL));
	args[0] = self->be;
	args[1] = self->p;
	args[2] = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	ASSERT_LE(0, args[2]);
	pthread_create(&th, NULL, bw_fn, &b);	/* waits up to 10 s */
	while (!b.tid)
		msleep(1);
	pid = clone(clone_adder, stack + sizeof(stack),
		    CLONE_VM | CLONE_FILES | SIGCHLD, args);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	/* wake the waiter through a normal target to end the test */
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd, EPOLLIN, 6));
	ASSERT_EQ(8, write(efd, &one, 8));
	pthread_join(th, NULL);
	EXPECT_EQ(1, b.ret);
	EXPECT_EQ(0, CTL(EPOLL_CTL_DEL, args[2], 0, 0));
	close(args[2]);
	close(efd);
}

/* Just enough of an io_uring (raw system calls) to submit and reap. */
struct uring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *rings, *sqe_map;
	size_t rings_len, sqe_len;
};

static int uring_init(struct uring *r, unsigned int entries)
{
	struct io_uring_params p = { 0 };
	char *m;

	r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (r->fd < 0)
		return -errno;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP))
		return -EOPNOTSUPP;	/* every 6.1 kernel has it */
	r->rings_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	if (p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe) > r->rings_len)
		r->rings_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->rings = mmap(NULL, r->rings_len, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	r->sqe_map = mmap(NULL, r->sqe_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->rings == MAP_FAILED || r->sqe_map == MAP_FAILED)
		return -ENOMEM;
	m = r->rings;
	r->sq_tail = (unsigned int *)(m + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(m + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(m + p.sq_off.array);
	r->cq_head = (unsigned int *)(m + p.cq_off.head);
	r->cq_tail = (unsigned int *)(m + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(m + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(m + p.cq_off.cqes);
	r->sqes = r->sqe_map;
	return 0;
}

static void uring_exit(struct uring *r)
{
	munmap(r->sqe_map, r->sqe_len);
	munmap(r->rings, r->rings_len);
	close(r->fd);
}

/* Submits one SQE; returns io_uring_enter()'s result. */
static int uring_submit(struct uring *r, const struct io_uring_sqe *sqe)
{
	unsigned int tail = *r->sq_tail, i = tail & *r->sq_mask;

	r->sqes[i] = *sqe;
	r->sq_array[i] = i;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	return (int)syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0);
}

/* Reaps every CQE; counts those of @user_data, and their last flags. */
static int uring_reap(struct uring *r, uint64_t user_data, uint32_t *flags)
{
	unsigned int head = *r->cq_head, n = 0;

	/* Run the task work that posts poll completions, then look. */
	syscall(__NR_io_uring_enter, r->fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0);
	while (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];

		if (c->user_data == user_data) {
			n++;
			*flags = c->flags;
		}
		head++;
	}
	__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
	return (int)n;
}

/*
 * io_uring wakes the pollers of its completion queue with EPOLL_URING_WAKE
 * in the key, and an instance between them must pass it on to its own
 * pollers, as epoll does.  Here the instance watches the ring, and a
 * multishot IORING_OP_POLL_ADD on the ring polls the instance: each
 * completion the poll posts wakes the ring, so the instance, so the poll
 * again.  With the mark io_uring sees the loop and makes the poll one-shot
 * after its first completion; without it the poll posts until the
 * completion queue is full.
 */
TEST_F(cb, io_uring_wake_mark_reaches_pollers)
{
	struct io_uring_sqe poll = {
		.opcode = IORING_OP_POLL_ADD, .fd = self->p,
		.poll32_events = POLLIN, .len = IORING_POLL_ADD_MULTI,
		.user_data = 1,
	};
	struct io_uring_sqe nop = { .opcode = IORING_OP_NOP, .user_data = 2 };
	uint32_t flags = 0;
	struct uring r;
	int e;

	e = uring_init(&r, 8);
	if (e == -ENOSYS || e == -EPERM)
		SKIP(return, "io_uring: %s", strerror(-e));
	ASSERT_EQ(0, e);
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, r.fd, EPOLLIN, 7));
	ASSERT_EQ(1, uring_submit(&r, &poll));
	ASSERT_EQ(0, uring_reap(&r, 1, &flags)) TH_LOG("the poll completed at once");
	/* The NOP's completion makes the ring, so the instance, readable. */
	ASSERT_EQ(1, uring_submit(&r, &nop));
	msleep(50);
	EXPECT_EQ(1, uring_reap(&r, 1, &flags))
		TH_LOG("the multishot poll completed more than once: the wakeup lost its mark");
	EXPECT_FALSE(flags & IORING_CQE_F_MORE)
		TH_LOG("the poll stayed armed (flags %#x)", flags);
	uring_exit(&r);
}

XP_NO_HOOK
XP_MAIN
