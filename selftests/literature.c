// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 5: the behaviours the epoll literature teaches (epoll(7)
 * "Level-triggered and edge-triggered", its Q&A, and the usual event
 * loop pitfalls), each on epoll and on xpoll.
 */
#include "xp_test.h"

FIXTURE(lit) { int be, p; };
XP_BACKENDS(lit);

FIXTURE_SETUP(lit)
{
	XP_REQUIRE(variant->be);
	self->be = variant->be;
	self->p = pl_create(self->be, 1);
	ASSERT_LE(0, self->p) TH_LOG("%s", strerror(-self->p));
}

FIXTURE_TEARDOWN(lit)
{
	close(self->p);
}

#define CTL(op, fd, ev, d) pl_ctl(self->be, self->p, op, fd, ev, d)
#define POLL0(ev) pl_poll0(self->be, self->p, ev)

static char buf[1 << 20];

/* epoll(7): 2 kB written into a pipe, 1 kB read; the next wait. */
static int pipe_2k_1k(struct __test_metadata *_metadata, int be, int p,
		      uint32_t mode)
{
	struct epoll_event ev[4];
	int fds[2], n;

	ASSERT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, pl_ctl(be, p, EPOLL_CTL_ADD, fds[0], EPOLLIN | mode, 1));
	ASSERT_EQ(2048, write(fds[1], buf, 2048));
	ASSERT_EQ(1, pl_poll0(be, p, ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	ASSERT_EQ(1024, read(fds[0], buf, 1024));
	n = pl_poll0(be, p, ev);
	close(fds[0]);
	close(fds[1]);
	return n;
}

TEST_F(lit, pipe_2k_written_1k_read_lt_reports_again)
{
	EXPECT_EQ(1, pipe_2k_1k(_metadata, self->be, self->p, 0));
}

TEST_F(lit, pipe_2k_written_1k_read_et_does_not)
{
	EXPECT_EQ(0, pipe_2k_1k(_metadata, self->be, self->p, EPOLLET));
}

TEST_F(lit, et_second_write_into_readable_pipe_reports)
{
	struct epoll_event ev[4];
	int fds[2];

	ASSERT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, fds[0], EPOLLIN | EPOLLET, 1));
	ASSERT_EQ(10, write(fds[1], buf, 10));
	ASSERT_EQ(1, POLL0(ev));
	ASSERT_EQ(0, POLL0(ev));
	/* still readable, nothing read: a new write is a new edge */
	ASSERT_EQ(10, write(fds[1], buf, 10));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	close(fds[0]);
	close(fds[1]);
}

TEST_F(lit, eventfd_two_writes_coalesce_into_one_event)
{
	struct epoll_event ev[4];
	uint64_t v = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	for (int mode = 0; mode < 2; mode++) {
		uint32_t m = mode ? EPOLLET : 0;

		ASSERT_EQ(0, CTL(mode ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, efd,
				 EPOLLIN | m, 1));
		ASSERT_EQ(8, write(efd, &v, 8));
		ASSERT_EQ(8, write(efd, &v, 8));
		ASSERT_EQ(1, pl_wait(self->be, self->p, ev, 4, 0, NULL))
			TH_LOG("mode %s", mode ? "ET" : "LT");
		ASSERT_EQ(8, read(efd, &v, 8));
		EXPECT_EQ(2, v);
		v = 1;
		ASSERT_EQ(0, POLL0(ev));
	}
	close(efd);
}

/* Length of a listening socket's accept queue (tcpi_unacked). */
static int accept_queue(int l)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -1;
	return ti.tcpi_unacked;
}

TEST_F(lit, et_listening_socket_several_pending_connections)
{
	struct epoll_event ev[4];
	struct sockaddr_in sa;
	int l = tcp_listener(&sa, 16), c[4], n = 0, a;

	ASSERT_LE(0, l);
	set_nonblock(l);
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, l, EPOLLIN | EPOLLET, 1));
	for (int i = 0; i < 3; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_EQ(0, connect(c[i], (struct sockaddr *)&sa, sizeof(sa)));
	}
	for (int i = 0; i < 2000 && accept_queue(l) < 3; i++)
		msleep(1);
	ASSERT_EQ(3, accept_queue(l));
	/* One event for the three, and ET does not repeat it ... */
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(EPOLLIN, ev[0].events);
	ASSERT_EQ(0, POLL0(ev));
	/* ... so the loop must accept until EAGAIN. */
	while ((a = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(a);
		n++;
	}
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(3, n);
	ASSERT_EQ(0, POLL0(ev));
	/* A new connection is a new edge. */
	c[3] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(0, connect(c[3], (struct sockaddr *)&sa, sizeof(sa)));
	EXPECT_EQ(EPOLLIN, pl_wait_for(self->be, self->p, 1, 2000));
	for (int i = 0; i < 4; i++)
		close(c[i]);
	close(l);
}

/* Fill the send side until EAGAIN; then drain the peer until the sender's
 * EPOLLOUT comes back. */
static void sendbuf_fill_drain(struct __test_metadata *_metadata, int be,
			       int p, int s, int peer, uint32_t mode)
{
	struct epoll_event ev[4];
	int64_t got = -1, end;
	ssize_t w;

	set_nonblock(s);
	set_nonblock(peer);
	ASSERT_EQ(0, pl_ctl(be, p, EPOLL_CTL_ADD, s, EPOLLOUT | mode, 9));
	ASSERT_EQ(1, pl_poll0(be, p, ev));
	EXPECT_EQ(EPOLLOUT, ev[0].events);
	if (mode & EPOLLET) {
		ASSERT_EQ(0, pl_poll0(be, p, ev));
	}
	while ((w = write(s, buf, sizeof(buf))) > 0)
		;
	ASSERT_EQ(EAGAIN, errno);
	/* full: nothing to report, LT or ET */
	ASSERT_EQ(0, pl_poll0(be, p, ev));
	end = now_ns() + 5000000000LL;
	while (got < 0 && now_ns() < end) {
		while (read(peer, buf, sizeof(buf)) > 0)
			;
		int n = pl_wait(be, p, ev, 4, 20 * 1000000LL, NULL);

		if (n > 0)
			got = ev_find(ev, n, 9);
	}
	EXPECT_EQ(EPOLLOUT, got);
}

TEST_F(lit, epollout_when_tcp_send_buffer_fills_and_drains_lt)
{
	int sv[2], sz = 8192;

	ASSERT_EQ(0, tcp_pair(sv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	sendbuf_fill_drain(_metadata, self->be, self->p, sv[0], sv[1], 0);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(lit, epollout_when_tcp_send_buffer_fills_and_drains_et)
{
	int sv[2], sz = 8192;

	ASSERT_EQ(0, tcp_pair(sv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	sendbuf_fill_drain(_metadata, self->be, self->p, sv[0], sv[1], EPOLLET);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(lit, epollout_when_unix_send_buffer_fills_and_drains_et)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	sendbuf_fill_drain(_metadata, self->be, self->p, sv[0], sv[1], EPOLLET);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(lit, oneshot_then_mod_rearms)
{
	struct epoll_event ev[4];
	int fds[2];

	ASSERT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, fds[0], EPOLLIN | EPOLLONESHOT, 1));
	ASSERT_EQ(1, write(fds[1], "a", 1));
	ASSERT_EQ(1, POLL0(ev));
	/* the classic thread-pool pattern: handle, then re-arm */
	ASSERT_EQ(1, write(fds[1], "b", 1));
	ASSERT_EQ(0, POLL0(ev));
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, fds[0], EPOLLIN | EPOLLONESHOT, 2));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(2, ev[0].data.u64);
	ASSERT_EQ(2, read(fds[0], buf, 10));
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, fds[0], EPOLLIN | EPOLLONESHOT, 3));
	ASSERT_EQ(0, POLL0(ev));
	ASSERT_EQ(1, write(fds[1], "c", 1));
	ASSERT_EQ(1, POLL0(ev));
	EXPECT_EQ(3, ev[0].data.u64);
	close(fds[0]);
	close(fds[1]);
}

/* ---- several threads blocked on one instance ---- */

#define NT 4
struct tw {
	int be, p;
	pid_t tid;
	volatile int got;
};

static void *tw_fn(void *arg)
{
	struct tw *w = arg;
	struct epoll_event ev[4];
	int n;

	w->tid = gettid_();
	n = pl_wait(w->be, w->p, ev, 1, 4000000000LL, NULL);
	w->got = n > 0 ? n : 0;
	return NULL;
}

static int threads_woken(struct __test_metadata *_metadata, int be, int p,
			 uint32_t mode, int wait_ms)
{
	struct tw w[NT];
	pthread_t th[NT];
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), woke = 0;

	EXPECT_EQ(0, pl_ctl(be, p, EPOLL_CTL_ADD, efd, EPOLLIN | mode, 1));
	for (int i = 0; i < NT; i++) {
		w[i] = (struct tw){ .be = be, .p = p };
		pthread_create(&th[i], NULL, tw_fn, &w[i]);
	}
	for (int i = 0; i < NT; i++) {
		while (!w[i].tid)
			msleep(1);
		EXPECT_TRUE(wait_sleeping(w[i].tid, 2000));
	}
	EXPECT_EQ(8, write(efd, &one, 8));
	for (int t = 0; t < wait_ms; t += 10) {
		woke = 0;
		for (int i = 0; i < NT; i++)
			woke += w[i].got > 0;
		if (woke == NT)
			break;
		msleep(10);
	}
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	close(efd);
	return woke;
}

TEST_F_TIMEOUT(lit, threads_on_one_instance_et_one_wakes, 60)
{
	int n = threads_woken(_metadata, self->be, self->p, EPOLLET, 1000);

	EXPECT_EQ(1, n) TH_LOG("%d threads got one ET event", n);
}

TEST_F_TIMEOUT(lit, threads_on_one_instance_lt_all_see_it, 60)
{
	/* LT: the woken thread puts the item back and wakes the next. */
	int n = threads_woken(_metadata, self->be, self->p, 0, 3000);

	EXPECT_EQ(NT, n);
}

struct shared {
	int be, p, *efd;
	volatile int stop;
	uint64_t total;
	pthread_mutex_t mu;
};

static void *share_fn(void *arg)
{
	struct shared *s = arg;
	struct epoll_event ev[1];

	while (!s->stop) {
		int n = pl_wait(s->be, s->p, ev, 1, 20000000LL, NULL);
		uint64_t v;

		if (n == 1 && read(s->efd[ev[0].data.u64], &v, 8) == 8) {
			pthread_mutex_lock(&s->mu);
			s->total += v;
			pthread_mutex_unlock(&s->mu);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(lit, threads_share_events_without_loss, 120)
{
	/* N threads each take one event at a time from 64 ET eventfds while
	 * the main thread writes; every write must be read exactly once. */
	enum { NE = 64, ROUNDS = 300 };
	int efd[NE];

	for (int i = 0; i < NE; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efd[i], EPOLLIN | EPOLLET, i));
	}
	struct shared sh = { .be = self->be, .p = self->p, .efd = efd,
			     .mu = PTHREAD_MUTEX_INITIALIZER };
	void *(*fn)(void *) = share_fn;
	pthread_t th[NT];
	uint64_t sent = 0, one = 1, v;

	for (int i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, fn, &sh);
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NE; i += 1 + r % 3) {
			ASSERT_EQ(8, write(efd[i], &one, 8));
			sent++;
		}
	/* let the threads drain, then stop them */
	for (int t = 0; t < 500; t++) {
		pthread_mutex_lock(&sh.mu);
		v = sh.total;
		pthread_mutex_unlock(&sh.mu);
		if (v == sent)
			break;
		msleep(10);
	}
	sh.stop = 1;
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	EXPECT_EQ(sent, sh.total) TH_LOG("a count was left with no event");
	for (int i = 0; i < NE; i++) {
		EXPECT_EQ(-1, read(efd[i], &v, 8)) TH_LOG("eventfd %d not drained", i);
		close(efd[i]);
	}
}

XP_NO_HOOK
XP_MAIN
