/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal entry points shared by libxpoll and the LD_PRELOAD library
 * (which links the same object). They issue the ioctl and return its
 * raw result: -1 with the ioctl's errno, so ENOTTY still tells "this
 * descriptor is not an xpoll instance" to a caller that wants to know.
 */
#ifndef XPOLL_INTERNAL_H
#define XPOLL_INTERNAL_H

#include <stdint.h>
#include <xpoll/xpoll.h>

#define XPOLL_HIDDEN __attribute__((visibility("hidden")))

/* epoll's bound on maxevents: INT_MAX / sizeof(struct epoll_event). */
#define XPOLL_MAX_EVENTS ((int)(0x7fffffff / sizeof(struct epoll_event)))

/* Kernel sigset size (_NSIG / 8): what glibc passes to epoll_pwait. */
#define XPOLL_KERNEL_SIGSET_SIZE 8

XPOLL_HIDDEN int xpoll__ctl(int xpfd, int op, int fd,
			    struct epoll_event *event);
XPOLL_HIDDEN int xpoll__wait_ns(int xpfd, struct epoll_event *events,
				int maxevents, int64_t timeout_ns,
				const sigset_t *sigmask);
/* ms (epoll_wait) -> ns; negative means forever. */
XPOLL_HIDDEN int64_t xpoll__ms_to_ns(int timeout_ms);
/* timespec (epoll_pwait2) -> ns; NULL forever; -2 if invalid (EINVAL). */
XPOLL_HIDDEN int64_t xpoll__ts_to_ns(const struct timespec *ts);
/* The errno epoll_ctl gives when epfd is not an epoll/xpoll instance. */
XPOLL_HIDDEN int xpoll__ctl_not_instance_errno(int fd);

#endif /* XPOLL_INTERNAL_H */
