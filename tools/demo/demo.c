// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll-demo: what `make run` shows.
 *
 *  1. An event-loop server on one xpoll instance (through libxpoll) serves a
 *     load generator over loopback: client threads open many connections
 *     (200 by default), all held open at once, and each connection sends
 *     requests one after the other; every reply is checked byte for byte.
 *     The clients use the kernel's epoll, so the two sit side by side.
 *  2. The pipe scenario of epoll(7): write 2 KB into a pipe, wait, read 1 KB,
 *     wait again; level-triggered reports the rest, edge-triggered does not.
 *     Run on epoll and on xpoll, in LT and in ET, printed side by side.
 *  3. A report readable in ten seconds. Exit status 0 only if every request
 *     was answered correctly and xpoll matched epoll and the expected result
 *     in every cell of the table.
 *
 * Threads: the server thread owns the xpoll instance and every server-side
 * connection; each client thread owns its connections and its epoll fd.
 * They share only atomic counters and a barrier; no other locking.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xpoll/xpoll.h>

#define REQ_MAGIC	0x51455251u	/* "QREQ" */
#define REP_MAGIC	0x50455251u	/* "QREP" */
#define PAYLOAD		48

/* One request or reply: fixed size, so a short read is easy to spot. */
struct msg {
	uint32_t magic;
	uint32_t conn;
	uint32_t seq;
	uint32_t sum;			/* reply: sum of the request payload */
	uint8_t payload[PAYLOAD];	/* reply: request bytes, each + 1 */
};

static int opt_conns = 200, opt_reqs = 100, opt_threads = 4, opt_timeout = 90;
/* -e: the server on the kernel's epoll instead (a baseline; no module needed) */
static int opt_epoll_server;

static int srv_ctl(int ep, int op, int fd, struct epoll_event *e)
{
	return opt_epoll_server ? epoll_ctl(ep, op, fd, e) : xpoll_ctl(ep, op, fd, e);
}

static int srv_wait(int ep, struct epoll_event *e, int max, int timeout)
{
	return opt_epoll_server ? epoll_wait(ep, e, max, timeout)
				: xpoll_wait(ep, e, max, timeout);
}

static atomic_long served, answered, errors;
static atomic_int accepted_now, accepted_peak;
static pthread_barrier_t all_connected;
static int server_port, server_xpfd, stop_efd;

static void fail(const char *what)
{
	fprintf(stderr, "xpoll-demo: %s: %s\n", what, strerror(errno));
	atomic_fetch_add(&errors, 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill_request(struct msg *m, uint32_t conn, uint32_t seq)
{
	m->magic = REQ_MAGIC;
	m->conn = conn;
	m->seq = seq;
	m->sum = 0;
	for (int i = 0; i < PAYLOAD; i++)
		m->payload[i] = (uint8_t)(conn * 31 + seq * 7 + i);
}

static void make_reply(const struct msg *req, struct msg *rep)
{
	uint32_t sum = 0;

	rep->magic = REP_MAGIC;
	rep->conn = req->conn;
	rep->seq = req->seq;
	for (int i = 0; i < PAYLOAD; i++) {
		sum += req->payload[i];
		rep->payload[i] = (uint8_t)(req->payload[i] + 1);
	}
	rep->sum = sum;
}

static int reply_ok(const struct msg *rep, uint32_t conn, uint32_t seq)
{
	struct msg req, want;

	fill_request(&req, conn, seq);
	make_reply(&req, &want);
	return memcmp(rep, &want, sizeof(want)) == 0;
}

/* ---------------- server: one thread, one xpoll instance ---------------- */

struct sconn {
	int fd;
	size_t in_len, out_len, out_off;
	uint8_t in[sizeof(struct msg)];
	uint8_t out[64 * sizeof(struct msg)];
	int want_out;
};

static void server_close(struct sconn *c)
{
	/* DEL first: the demo shows the explicit form; close alone also works. */
	if (srv_ctl(server_xpfd, EPOLL_CTL_DEL, c->fd, NULL) < 0)
		fail("xpoll_ctl DEL");
	close(c->fd);
	free(c);
	atomic_fetch_sub(&accepted_now, 1);
}

/* Flush what is pending; returns -1 if the connection failed. */
static int server_flush(struct sconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail("server write");
			return -1;
		}
		c->out_off += n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	/* Ask for EPOLLOUT only while something waits to be written. */
	int want = c->out_len > 0;

	if (want != c->want_out) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLRDHUP | EPOLLET |
				  (want ? EPOLLOUT : 0),
			.data.ptr = c,
		};
		if (srv_ctl(server_xpfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			fail("xpoll_ctl MOD");
			return -1;
		}
		c->want_out = want;
	}
	return 0;
}

/* Edge-triggered: read until EAGAIN, answer every complete request. */
static int server_read(struct sconn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_len,
				 sizeof(c->in) - c->in_len);

		if (n == 0)
			return -1;		/* client done */
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			fail("server read");
			return -1;
		}
		c->in_len += n;
		if (c->in_len < sizeof(struct msg))
			continue;
		c->in_len = 0;
		struct msg req, rep;

		memcpy(&req, c->in, sizeof(req));
		if (req.magic != REQ_MAGIC) {
			fprintf(stderr, "xpoll-demo: bad request magic\n");
			atomic_fetch_add(&errors, 1);
			return -1;
		}
		make_reply(&req, &rep);
		if (c->out_len + sizeof(rep) > sizeof(c->out)) {
			fprintf(stderr, "xpoll-demo: output overflow\n");
			atomic_fetch_add(&errors, 1);
			return -1;
		}
		memcpy(c->out + c->out_len, &rep, sizeof(rep));
		c->out_len += sizeof(rep);
		atomic_fetch_add(&served, 1);
		if (server_flush(c) < 0)
			return -1;
	}
}

static void *server_main(void *arg)
{
	int lfd = *(int *)arg;
	struct epoll_event evs[64];
	int running = 1;

	while (running) {
		int n = srv_wait(server_xpfd, evs, 64, 1000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail("xpoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &stop_efd) {
				running = 0;
			} else if (p == &server_port) {
				/* Listener, level-triggered: one accept per event is enough. */
				int fd = accept4(lfd, NULL, NULL,
						 SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (fd < 0) {
					if (errno != EAGAIN)
						fail("accept4");
					continue;
				}
				struct sconn *c = calloc(1, sizeof(*c));

				if (!c) {
					fail("calloc");
					close(fd);
					continue;
				}
				c->fd = fd;
				struct epoll_event ev = {
					.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
					.data.ptr = c,
				};
				if (srv_ctl(server_xpfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
					fail("xpoll_ctl ADD");
					close(fd);
					free(c);
					continue;
				}
				int cur = atomic_fetch_add(&accepted_now, 1) + 1;
				int peak = atomic_load(&accepted_peak);

				while (cur > peak &&
				       !atomic_compare_exchange_weak(&accepted_peak, &peak, cur))
					;
			} else {
				struct sconn *c = p;
				int bad = 0;

				if (evs[i].events & EPOLLOUT)
					bad = server_flush(c) < 0;
				if (!bad && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
					bad = server_read(c) < 0;
				if (bad)
					server_close(c);
			}
		}
	}
	return NULL;
}

/* ---------------- clients: threads on the kernel's epoll ---------------- */

struct cconn {
	int fd;
	uint32_t id, seq;		/* seq: requests answered so far */
	size_t in_len;
	uint8_t in[sizeof(struct msg)];
};

static int client_send(struct cconn *c)
{
	struct msg m;

	fill_request(&m, c->id, c->seq);
	/* Small message on an idle connection: the whole write goes through. */
	if (write(c->fd, &m, sizeof(m)) != (ssize_t)sizeof(m)) {
		fail("client write");
		return -1;
	}
	return 0;
}

static void *client_main(void *arg)
{
	int first = (int)(long)arg, count = 0;
	struct cconn *cs;
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(server_port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct epoll_event evs[64];
	int epfd, live = 0;

	for (int id = first; id < opt_conns; id += opt_threads)
		count++;
	cs = calloc(count ? count : 1, sizeof(*cs));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!cs || epfd < 0) {
		fail("client setup");
		pthread_barrier_wait(&all_connected);
		return NULL;
	}
	for (int i = 0; i < count; i++) {
		struct cconn *c = &cs[i];
		int one = 1;

		c->id = first + i * opt_threads;
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (void *)&sa, sizeof(sa)) < 0) {
			fail("client connect");
			c->fd = -1;
			continue;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			fail("client epoll_ctl");
			continue;
		}
		live++;
	}
	/* Every connection of every thread is open before the first request. */
	pthread_barrier_wait(&all_connected);
	for (int i = 0; i < count; i++)
		if (cs[i].fd >= 0 && client_send(&cs[i]) < 0)
			live--;
	while (live > 0 && atomic_load(&errors) == 0) {
		int n = epoll_wait(epfd, evs, 64, 1000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail("client epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct cconn *c = evs[i].data.ptr;
			ssize_t r = read(c->fd, c->in + c->in_len,
					 sizeof(c->in) - c->in_len);

			if (r <= 0) {
				if (r == 0)
					errno = ECONNRESET;
				fail("client read");
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				live--;
				continue;
			}
			c->in_len += r;
			if (c->in_len < sizeof(struct msg))
				continue;
			c->in_len = 0;
			struct msg rep;

			memcpy(&rep, c->in, sizeof(rep));
			if (!reply_ok(&rep, c->id, c->seq)) {
				fprintf(stderr, "xpoll-demo: wrong reply on connection %u\n",
					c->id);
				atomic_fetch_add(&errors, 1);
			}
			atomic_fetch_add(&answered, 1);
			if (++c->seq == (uint32_t)opt_reqs) {
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				live--;
			} else if (client_send(c) < 0) {
				live--;
			}
		}
	}
	for (int i = 0; i < count; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	close(epfd);
	free(cs);
	return NULL;
}

/* Items of an instance, as its fdinfo lists them ("tfd:" lines). */
static int fdinfo_items(int fd)
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "tfd:", 4) == 0)
			n++;
	fclose(f);
	return n;
}

struct load_result {
	double secs;
	int peak_items;
};

static int run_load(struct load_result *res)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	pthread_t srv, *cl;
	long total = (long)opt_conns * opt_reqs, last = -1;
	double t0, deadline, next_print;
	int lfd;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (void *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1024) < 0 || getsockname(lfd, (void *)&sa, &sl) < 0) {
		fail("listen on 127.0.0.1");
		return -1;
	}
	server_port = ntohs(sa.sin_port);
	server_xpfd = opt_epoll_server ? epoll_create1(EPOLL_CLOEXEC)
				       : xpoll_create1(XPOLL_CLOEXEC);
	stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (server_xpfd < 0 || stop_efd < 0) {
		fail("xpoll_create1/eventfd");
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &server_port };

	if (srv_ctl(server_xpfd, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		fail("xpoll_ctl ADD listener");
		return -1;
	}
	ev.data.ptr = &stop_efd;
	if (srv_ctl(server_xpfd, EPOLL_CTL_ADD, stop_efd, &ev) < 0) {
		fail("xpoll_ctl ADD eventfd");
		return -1;
	}

	printf("[1/2] server on %s, 127.0.0.1:%d; %d client threads open %d connections, %d requests each\n",
	       opt_epoll_server ? "epoll (-e)" : "xpoll", server_port,
	       opt_threads, opt_conns, opt_reqs);
	fflush(stdout);
	pthread_barrier_init(&all_connected, NULL, opt_threads + 1);
	cl = calloc(opt_threads, sizeof(*cl));
	t0 = now();
	if (pthread_create(&srv, NULL, server_main, &lfd) != 0) {
		fail("pthread_create");
		free(cl);
		return -1;
	}
	for (int i = 0; i < opt_threads; i++)
		pthread_create(&cl[i], NULL, client_main, (void *)(long)i);

	/* All connected: wait until the server has accepted every one. */
	deadline = now() + opt_timeout;
	while (atomic_load(&accepted_now) < opt_conns && now() < deadline &&
	       atomic_load(&errors) == 0)
		usleep(10000);
	res->peak_items = fdinfo_items(server_xpfd);
	printf("      %d connections open at once; the instance's fdinfo lists %d items\n",
	       atomic_load(&accepted_now), res->peak_items);
	fflush(stdout);
	pthread_barrier_wait(&all_connected);

	next_print = now() + 1;
	while (atomic_load(&answered) + 0 < total) {
		long a = atomic_load(&answered);
		int done = 1;

		if (now() >= next_print) {
			printf("      %6ld / %ld requests answered\n", a, total);
			fflush(stdout);
			next_print += 1;
		}
		if (now() > deadline) {
			fprintf(stderr, "xpoll-demo: timeout after %d s (%ld/%ld answered)\n",
				opt_timeout, a, total);
			atomic_fetch_add(&errors, 1);
			break;
		}
		/* Clients stop early on errors: nothing more will come. */
		if (atomic_load(&errors) && a == last)
			break;
		last = a;
		(void)done;
		usleep(20000);
	}
	for (int i = 0; i < opt_threads; i++)
		pthread_join(cl[i], NULL);
	res->secs = now() - t0;
	/* The clients closed their sockets: the server sees EOF on each. */
	deadline = now() + 10;
	while (atomic_load(&accepted_now) > 0 && now() < deadline)
		usleep(10000);
	if (atomic_load(&accepted_now) > 0) {
		fprintf(stderr, "xpoll-demo: %d server connections never saw EOF\n",
			atomic_load(&accepted_now));
		atomic_fetch_add(&errors, 1);
	}
	uint64_t one = 1;

	if (write(stop_efd, &one, sizeof(one)) != sizeof(one))
		fail("eventfd write");
	pthread_join(srv, NULL);
	close(lfd);
	close(stop_efd);
	close(server_xpfd);
	free(cl);
	pthread_barrier_destroy(&all_connected);
	return 0;
}

/* ---------------- the pipe scenario (epoll(7)) ---------------- */

enum backend { BE_EPOLL, BE_XPOLL };

static int be_create(enum backend b)
{
	return b == BE_EPOLL ? epoll_create1(EPOLL_CLOEXEC)
			     : xpoll_create1(XPOLL_CLOEXEC);
}

static int be_ctl(enum backend b, int ep, int op, int fd, struct epoll_event *e)
{
	return b == BE_EPOLL ? epoll_ctl(ep, op, fd, e) : xpoll_ctl(ep, op, fd, e);
}

static int be_wait(enum backend b, int ep, struct epoll_event *e, int max)
{
	return b == BE_EPOLL ? epoll_wait(ep, e, max, 0) : xpoll_wait(ep, e, max, 0);
}

#define STEPS 4
static const char *const step_name[STEPS] = {
	"write 2 KB, wait",
	"read 1 KB, wait again",
	"write 1 byte more, wait",
	"read everything, wait",
};
/* What epoll(7) says each wait reports: 1 = EPOLLIN on the read end. */
static const int expect_lt[STEPS] = { 1, 1, 1, 0 };
static const int expect_et[STEPS] = { 1, 0, 1, 0 };

/* Result per step: number of events (-1 on error), and 1 = it was EPOLLIN. */
static int pipe_scenario(enum backend b, int et, int out[STEPS])
{
	char buf[4096];
	int p[2], ep, i;
	struct epoll_event ev = { .events = EPOLLIN | (et ? EPOLLET : 0),
				  .data.u64 = 0x1234 };
	struct epoll_event got[4];

	for (i = 0; i < STEPS; i++)
		out[i] = -1;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	ep = be_create(b);
	if (ep < 0 || be_ctl(b, ep, EPOLL_CTL_ADD, p[0], &ev) < 0) {
		fail(b == BE_EPOLL ? "epoll setup" : "xpoll setup");
		goto out;
	}
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < STEPS; i++) {
		ssize_t r = 0;

		switch (i) {
		case 0:
			r = write(p[1], buf, 2048) == 2048 ? 0 : -1;
			break;
		case 1:
			r = read(p[0], buf, 1024) == 1024 ? 0 : -1;
			break;
		case 2:
			r = write(p[1], buf, 1) == 1 ? 0 : -1;
			break;
		case 3:
			r = read(p[0], buf, sizeof(buf)) == 1025 ? 0 : -1;
			break;
		}
		if (r < 0) {
			fail("pipe I/O");
			goto out;
		}
		int n = be_wait(b, ep, got, 4);

		if (n == 1 && (got[0].events != EPOLLIN || got[0].data.u64 != 0x1234))
			n = -2;		/* wrong event: shown as such */
		out[i] = n;
	}
out:
	if (ep >= 0)
		close(ep);
	close(p[0]);
	close(p[1]);
	return 0;
}

static const char *cell(int v)
{
	switch (v) {
	case 0:
		return "-";
	case 1:
		return "IN";
	case -2:
		return "WRONG";
	case -1:
		return "ERROR";
	default:
		return "MANY";
	}
}

static int run_pipes(void)
{
	int r[2][2][STEPS];	/* [et][backend][step] */
	int bad = 0;

	printf("[2/2] pipe scenario of epoll(7), LT and ET, on epoll and on xpoll\n");
	for (int et = 0; et < 2; et++)
		for (int b = 0; b < 2; b++)
			pipe_scenario(b, et, r[et][b]);

	printf("\n  pipe, one reader; every wait has timeout 0; IN = EPOLLIN reported, - = nothing\n");
	printf("  %-28s %-18s %-18s\n", "", "level-triggered", "edge-triggered");
	printf("  %-28s %-8s %-9s %-8s %-9s\n", "step", "epoll", "xpoll",
	       "epoll", "xpoll");
	for (int i = 0; i < STEPS; i++) {
		int ok = r[0][0][i] == expect_lt[i] && r[0][1][i] == expect_lt[i] &&
			 r[1][0][i] == expect_et[i] && r[1][1][i] == expect_et[i];

		printf("  %d %-26s %-8s %-9s %-8s %-9s %s\n", i + 1, step_name[i],
		       cell(r[0][0][i]), cell(r[0][1][i]), cell(r[1][0][i]),
		       cell(r[1][1][i]), ok ? "ok" : "MISMATCH");
		bad += !ok;
	}
	return bad;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xpoll-demo [-c connections] [-n requests per connection]\n"
		"                  [-t client threads] [-T timeout seconds] [-e]\n"
		"  -e  run the server on the kernel's epoll (baseline; the pipe\n"
		"      table still needs xpoll)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct load_result lr = { 0 };
	uint32_t abi;
	uint64_t feat;
	int c, xp, pipe_bad;

	while ((c = getopt(argc, argv, "c:n:t:T:eh")) != -1) {
		switch (c) {
		case 'e': opt_epoll_server = 1; break;
		case 'c': opt_conns = atoi(optarg); break;
		case 'n': opt_reqs = atoi(optarg); break;
		case 't': opt_threads = atoi(optarg); break;
		case 'T': opt_timeout = atoi(optarg); break;
		default: usage();
		}
	}
	if (opt_conns < 1 || opt_reqs < 1 || opt_threads < 1 || opt_timeout < 1)
		usage();
	if (opt_threads > opt_conns)
		opt_threads = opt_conns;
	signal(SIGPIPE, SIG_IGN);
	/* Room for 2 fds per connection plus a margin. */
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)(2 * opt_conns + 64)) {
		rl.rlim_cur = 2 * opt_conns + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	xp = xpoll_create1(XPOLL_CLOEXEC);
	if (opt_epoll_server && xp < 0) {
		printf("xpoll-demo: no %s (%s): server on epoll only\n",
		       XPOLL_DEVICE, strerror(errno));
	} else if (xp < 0 || xpoll_version(xp, &abi, &feat) < 0) {
		fprintf(stderr, "xpoll-demo: %s: %s (is the xpoll module loaded?)\n",
			XPOLL_DEVICE, strerror(errno));
		return 1;
	} else {
		close(xp);
		printf("xpoll-demo: %s ABI %u, features%s%s%s%s%s%s%s%s%s\n", XPOLL_DEVICE, abi,
		       feat & XPOLL_FEAT_CTL ? " ctl" : "", feat & XPOLL_FEAT_WAIT ? " wait" : "",
		       feat & XPOLL_FEAT_POLL ? " poll" : "",
		       feat & XPOLL_FEAT_FDINFO ? " fdinfo" : "",
		       feat & XPOLL_FEAT_CTL_BATCH ? " ctl_batch" : "",
		       feat & XPOLL_FEAT_PARAMS ? " params" : "",
		       feat & XPOLL_FEAT_CTL_WAIT ? " ctl_wait" : "",
		       feat & XPOLL_FEAT_USER_EVENTS ? " user_events" : "",
		       feat & XPOLL_FEAT_MIN_WAIT ? " min_wait" : "");
	}
	fflush(stdout);

	if (run_load(&lr) < 0)
		atomic_fetch_add(&errors, 1);
	pipe_bad = run_pipes();

	long total = (long)opt_conns * opt_reqs;
	long s = atomic_load(&served), a = atomic_load(&answered);
	long e = atomic_load(&errors);
	int items_ok = lr.peak_items < 0 || lr.peak_items >= opt_conns + 2;
	int pass = e == 0 && a == total && s == total && !pipe_bad &&
		   atomic_load(&accepted_peak) == opt_conns && items_ok;

	printf("\n==== xpoll demo report ====\n");
	printf("  requests served   %ld of %ld (answers checked: %ld)\n", s, total, a);
	printf("  connections       %d at once (peak), over loopback\n",
	       atomic_load(&accepted_peak));
	if (lr.peak_items >= 0)
		printf("  instance items    %d in the server's instance at peak (fdinfo)\n",
		       lr.peak_items);
	printf("  errors            %ld\n", e);
	printf("  time              %.2f s (%.0f requests/s)\n", lr.secs,
	       lr.secs > 0 ? a / lr.secs : 0.0);
	printf("  pipe LT/ET table  %s\n", pipe_bad ? "MISMATCH (see above)" :
	       "xpoll = epoll = epoll(7) in every cell");
	printf("  RESULT            %s\n", pass ? "PASS" : "FAIL");
	return pass ? 0 : 1;
}
