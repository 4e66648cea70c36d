// SPDX-License-Identifier: GPL-2.0
/*
 * stale-hint: a white-box test of the preload's fd hint, run on the host
 * (no module needed).  It builds the preload's own code into the program
 * (so its epoll_* are the preload's) and plays the case the hint must
 * survive: fd N came from the preload's epoll_create1 (marked), was
 * closed, and N now names another file, one the preload never saw created.
 * Every call on N must then reach that file, as without the preload, and
 * the mark must go.  The failed xpoll ioctl says ENOTTY for most files, but
 * EINVAL for an epoll file on Linux 6.9 and later (its own ioctl): the
 * test says which one this kernel gave.  TAP; exit 0 if all held.
 */
#include "../../lib/xpoll.c"
#include "../preload.c"

#include <sys/eventfd.h>
#include <sys/syscall.h>

static int n, fails;

static void check(int ok, const char *what)
{
	n++;
	if (!ok)
		fails++;
	printf("%sok %d - %s\n", ok ? "" : "not ", n, what);
}

int main(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 }, out[4];
	int ep = (int)syscall(SYS_epoll_create1, EPOLL_CLOEXEC);
	int efd = eventfd(1, EFD_CLOEXEC), other = eventfd(0, EFD_CLOEXEC);
	int num = 100, num2 = 101;
	struct xpoll_version v;

	if (ep < 0 || efd < 0 || other < 0) {
		printf("1..0 # SKIP epoll or eventfd: %s\n", strerror(errno));
		return 0;
	}
	memset(&v, 0, sizeof(v));
	errno = 0;
	ioctl(ep, XPOLL_IOC_VERSION, &v);
	printf("# an xpoll ioctl on an epoll fd fails %s on this kernel\n",
	       strerror(errno));

	/* N was an instance; now it is a real epoll fd. */
	mark(num);
	if (dup3(ep, num, O_CLOEXEC) != num)
		return 2;
	check(epoll_ctl(num, EPOLL_CTL_ADD, efd, &ev) == 0,
	      "epoll_ctl on a stale mark reaches the epoll file now there");
	check(!marked(num), "the mark is gone");
	mark(num);
	check(epoll_wait(num, out, 4, 0) == 1 && out[0].data.u64 == 7,
	      "epoll_wait on a stale mark reaches the epoll file now there");
	check(!marked(num), "the mark is gone (wait)");

	/* N was an instance; now it is an eventfd: epoll's own errno. */
	mark(num2);
	if (dup3(other, num2, O_CLOEXEC) != num2)
		return 2;
	errno = 0;
	check(epoll_wait(num2, out, 4, 0) == -1 && errno == EINVAL,
	      "epoll_wait on a stale mark that is an eventfd: EINVAL, as epoll");
	check(!marked(num2), "the mark is gone (eventfd)");

	printf("1..%d\n%d passed, %d failed\n", n, n - fails, fails);
	return fails != 0;
}
