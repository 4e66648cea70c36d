/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the reliability tests (limits, lifecycle, nest_cycle).
 * Calls return -errno instead of setting errno, so one ASSERT_EQ names the
 * errno that came back.
 */
#ifndef XPOLL_REL_H
#define XPOLL_REL_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/xpoll.h>

/*
 * The 6.1 harness's TEST() wrappers have an unused parameter, expanded in
 * our files, and its EXPECT_*() compare across signedness: silence those
 * two for the test files, -Werror stays for everything else.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"

#define MODPARAM "/sys/module/xpoll/parameters/"

static inline int xp_open(void)
{
	int fd = open(XPOLL_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static inline int xp_ctl(int xfd, int op, int fd, uint32_t ev, uint64_t data)
{
	struct xpoll_ctl c = { .op = op, .fd = fd, .events = ev, .data = data };

	return ioctl(xfd, XPOLL_IOC_CTL, &c) ? -errno : 0;
}

static inline int xp_wait(int xfd, struct epoll_event *ev, int max, long long ns)
{
	struct xpoll_wait w = {
		.events = (uintptr_t)ev, .maxevents = max, .timeout_ns = ns,
	};
	int r = ioctl(xfd, XPOLL_IOC_WAIT, &w);

	return r < 0 ? -errno : r;
}

static inline int ep_ctl(int epfd, int op, int fd, uint32_t ev, uint64_t data)
{
	struct epoll_event e = { .events = ev, .data.u64 = data };

	return epoll_ctl(epfd, op, fd, &e) ? -errno : 0;
}

static inline int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, o = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + o, len - 1 - o)) > 0)
		o += n;
	close(fd);
	buf[o] = 0;
	return n < 0 ? -errno : 0;
}

static inline int write_text(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : (n < 0 ? -errno : -EIO);
}

static inline long read_long(const char *path)
{
	char b[64];

	if (read_text(path, b, sizeof(b)))
		return -1;
	return strtol(b, NULL, 0);
}

static inline int fdinfo_text(int fd, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return read_text(path, buf, len);
}

static inline int fdinfo_items(int fd)
{
	static char buf[1 << 16];
	int n = 0;
	char *p = buf;

	if (fdinfo_text(fd, buf, sizeof(buf)))
		return -1;
	while ((p = strstr(p, "tfd:"))) {
		n++;
		p += 4;
	}
	return n;
}

static inline int new_efd(unsigned int v)
{
	return eventfd(v, EFD_NONBLOCK | EFD_CLOEXEC);
}

#endif
