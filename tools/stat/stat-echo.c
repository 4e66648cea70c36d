// SPDX-License-Identifier: GPL-2.0
/*
 * stat-echo: the subject of tools/stat/test.sh, a TCP echo server on one
 * xpoll instance (libxpoll), and its client.
 *
 *   stat-echo -s                 serve on 127.0.0.1, an ephemeral port;
 *                                prints "port P xpfd X lfd L" and serves
 *                                until killed
 *   stat-echo -c PORT -n N       N requests on one connection, each echo
 *                                checked; prints "done N", then keeps the
 *                                connection open until its stdin ends
 *
 * The server watches its listener and each connection (level-triggered,
 * one read per event, so each request is at least one event of its
 * connection however the two sides are scheduled) and one user event
 * (key 0x5eed, EPOLLET), which it triggers at each accept and clears when
 * it is reported: every kind of fdinfo line xpoll-stat reads but the
 * ring's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xpoll/xpoll.h>

#define UEV_KEY		0x5eedULL
#define MSG		16

static void die(const char *what)
{
	fprintf(stderr, "stat-echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn)) serve(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	struct epoll_event ev, evs[16];
	char buf[4096];
	int xp, lfd, fd, n;
	ssize_t len;

	xp = xpoll_create1(0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (xp < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 64) || getsockname(lfd, (struct sockaddr *)&sa, &salen))
		die("setup");
	ev = (struct epoll_event){ .events = EPOLLIN, .data.fd = lfd };
	if (xpoll_ctl(xp, EPOLL_CTL_ADD, lfd, &ev) ||
	    xpoll_user_ctl(xp, EPOLL_CTL_ADD, UEV_KEY, EPOLLIN | EPOLLET, UEV_KEY))
		die("add");
	printf("port %d xpfd %d lfd %d\n", ntohs(sa.sin_port), xp, lfd);
	fflush(stdout);
	for (;;) {
		n = xpoll_wait(xp, evs, 16, -1);
		if (n < 0 && errno != EINTR)
			die("xpoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == UEV_KEY) {
				xpoll_user_clear(xp, UEV_KEY, EPOLLIN);
				continue;
			}
			if (evs[i].data.fd == lfd) {
				fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0)
					continue;
				ev = (struct epoll_event){ .events = EPOLLIN | EPOLLRDHUP,
							   .data.fd = fd };
				if (xpoll_ctl(xp, EPOLL_CTL_ADD, fd, &ev) ||
				    xpoll_user_trigger(xp, UEV_KEY, EPOLLIN))
					die("add connection");
				continue;
			}
			fd = evs[i].data.fd;
			/* Small echoes on loopback: each write goes through whole. */
			len = read(fd, buf, sizeof(buf));
			if (len < 0 && errno == EAGAIN)
				continue;
			if (len <= 0 || write(fd, buf, len) != len)
				close(fd);	/* the last close takes the item out */
		}
	}
}

static int client(int port, int reqs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[32], rep[MSG];
	ssize_t got, len;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	for (int i = 0; i < reqs; i++) {
		snprintf(req, sizeof(req), "request %07d\n", i % 10000000);
		if (write(fd, req, MSG) != MSG)
			die("write");
		for (got = 0; got < MSG; got += len) {
			len = read(fd, rep + got, MSG - got);
			if (len <= 0)
				die("read");
		}
		if (memcmp(req, rep, MSG)) {
			fprintf(stderr, "stat-echo: echo %d differs\n", i);
			return 1;
		}
	}
	printf("done %d\n", reqs);
	fflush(stdout);
	while (read(0, rep, sizeof(rep)) > 0)
		;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "-s"))
		serve();
	if (argc == 5 && !strcmp(argv[1], "-c") && !strcmp(argv[3], "-n"))
		return client(atoi(argv[2]), atoi(argv[4]));
	fprintf(stderr, "usage: stat-echo -s | stat-echo -c PORT -n N\n");
	return 2;
}
