// SPDX-License-Identifier: GPL-2.0
/*
 * Busy polling, as epoll does it in 6.1, and the per-instance settings
 * Linux 6.9 gave epoll (EPIOCSPARAMS / EPIOCGPARAMS), here
 * XPOLL_IOC_SET_PARAMS / XPOLL_IOC_GET_PARAMS.
 *
 * An instance remembers the NAPI id of the last socket it saw become
 * ready (callback) or added (ADD) while busy polling is on for it; a wait
 * that finds nothing ready busy-polls that NAPI queue before it sleeps,
 * until an event is ready, the busy-poll time is up, or the task must
 * reschedule (napi_busy_loop()); if nothing came, the id is forgotten
 * until a socket with one is ready again.  Busy polling is on for an
 * instance when its own busy_poll_usecs is set, or else when the
 * net.core.busy_poll sysctl is (its value is then the time), exactly the
 * rule of 6.9's ep_busy_loop_on().
 *
 * The sysctl's variable is not exported to modules.  xpoll opens
 * /proc/sys/net/core/busy_poll at load and reads it again at most every
 * XPOLL_SYSCTL_MS, from a wait or an ADD (process context, whoever comes
 * first with xpoll_sysctl_mutex free); callbacks use the last value read.
 * So a change of the sysctl reaches xpoll within XPOLL_SYSCTL_MS where
 * epoll sees it at once.  xpoll_sysctl_mutex (global) is held for one
 * read of that file, and only ever trylocked.
 */
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <net/busy_poll.h>
#include <net/sock.h>

#include <linux/xpoll.h>
#include "xpoll.h"

#define XPOLL_SYSCTL_MS		10

#ifdef CONFIG_NET_RX_BUSY_POLL
static struct file *xpoll_sysctl_file;
unsigned int xpoll_sysctl_busy_poll;		/* us; 0: off (xpoll.h) */
static unsigned long xpoll_sysctl_read_at;	/* jiffies */
static DEFINE_MUTEX(xpoll_sysctl_mutex);

/* Reads net.core.busy_poll again if the last read is too old. */
static void xpoll_sysctl_refresh(void)
{
	char buf[24];
	unsigned int v;
	loff_t pos = 0;
	ssize_t n;

	if (!xpoll_sysctl_file ||
	    time_before(jiffies, READ_ONCE(xpoll_sysctl_read_at) +
			msecs_to_jiffies(XPOLL_SYSCTL_MS)) ||
	    !mutex_trylock(&xpoll_sysctl_mutex))
		return;
	n = kernel_read(xpoll_sysctl_file, buf, sizeof(buf) - 1, &pos);
	if (n > 0) {
		buf[n] = 0;
		if (!kstrtouint(strim(buf), 10, &v))
			WRITE_ONCE(xpoll_sysctl_busy_poll, v);
	}
	WRITE_ONCE(xpoll_sysctl_read_at, jiffies);
	mutex_unlock(&xpoll_sysctl_mutex);
}

/*
 * @file, one of @ep's targets, is ready or added while busy polling is on
 * for @ep (the caller checks xpoll_busy_usecs()): if it is a socket whose
 * packets came through a NAPI queue, that queue is the one to busy-poll.
 * Any context; @file alive.
 */
void xpoll_busy_note(struct xpoll_instance *ep, struct file *file)
{
	unsigned int napi_id;
	struct socket *sock;

	sock = sock_from_file(file);
	if (!sock || !sock->sk)
		return;
	napi_id = READ_ONCE(sock->sk->sk_napi_id);
	if (napi_id >= MIN_NAPI_ID && napi_id != READ_ONCE(ep->napi_id))
		WRITE_ONCE(ep->napi_id, napi_id);
}

struct xpoll_busy {
	struct xpoll_instance *ep;
	unsigned long usecs;		/* how long this loop may last */
};

/*
 * The loop ends at an event, at its time, and also at a signal (epoll's
 * does not look: with an instance's own busy_poll_usecs, up to INT32_MAX
 * us, a killed task would spin on for as long).
 */
static bool xpoll_busy_loop_end(void *arg, unsigned long start_time)
{
	struct xpoll_busy *b = arg;

	return xpoll_events_available(b->ep) || signal_pending(current) ||
	       time_after(busy_loop_current_time(), start_time + b->usecs);
}

/*
 * Before a wait sleeps: busy-polls @ep's NAPI queue if busy polling is on
 * for it, for its time but not past the wait's own end (@expires, NULL:
 * none).  True if events are ready afterwards.
 */
bool xpoll_busy_loop(struct xpoll_instance *ep, const ktime_t *expires)
{
	unsigned int napi_id = READ_ONCE(ep->napi_id);
	struct xpoll_busy b = { .ep = ep };
	s64 left;

	xpoll_sysctl_refresh();
	b.usecs = xpoll_busy_usecs(ep);
	if (napi_id < MIN_NAPI_ID || !b.usecs)
		return false;
	if (expires) {
		left = ktime_us_delta(*expires, ktime_get());
		if (left <= 0)
			return false;
		b.usecs = min_t(unsigned long, b.usecs, left);
	}
	napi_busy_loop(napi_id, xpoll_busy_loop_end, &b,
		       READ_ONCE(ep->prefer_busy_poll),
		       READ_ONCE(ep->busy_poll_budget) ?: BUSY_POLL_BUDGET);
	if (xpoll_events_available(ep))
		return true;
	/* Nothing came: forget the queue until a socket readies again. */
	WRITE_ONCE(ep->napi_id, 0);
	return false;
}

/* Refreshes the sysctl before an ADD notes its target (ctl.c). */
void xpoll_busy_add(struct xpoll_instance *ep, struct file *file)
{
	xpoll_sysctl_refresh();
	if (xpoll_busy_usecs(ep))
		xpoll_busy_note(ep, file);
}

long xpoll_ioc_set_params(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_params p;

	if (xpoll_copy_arg(&p, uarg, sizeof(p)))
		return -EFAULT;
	/* 6.9's checks, in its order; then xpoll's reserved words. */
	if (p.pad)
		return -EINVAL;
	if (p.busy_poll_usecs > S32_MAX)
		return -EINVAL;
	if (p.prefer_busy_poll > 1)
		return -EINVAL;
	if (p.busy_poll_budget > NAPI_POLL_WEIGHT && !capable(CAP_NET_ADMIN))
		return -EPERM;
	/*
	 * Not 6.9's rule: as SO_PREFER_BUSY_POLL on 6.1, preferring busy
	 * polling (which keeps a queue's interrupts off for the busy poller,
	 * and so delays everyone's packets on it) needs CAP_NET_ADMIN.
	 */
	if (p.prefer_busy_poll && !capable(CAP_NET_ADMIN))
		return -EPERM;
	if (p.reserved[0] || p.reserved[1])
		return -EINVAL;
	WRITE_ONCE(ep->busy_poll_usecs, p.busy_poll_usecs);
	WRITE_ONCE(ep->busy_poll_budget, p.busy_poll_budget);
	WRITE_ONCE(ep->prefer_busy_poll, p.prefer_busy_poll);
	return 0;
}

long xpoll_ioc_get_params(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_params p = {
		.busy_poll_usecs = READ_ONCE(ep->busy_poll_usecs),
		.busy_poll_budget = READ_ONCE(ep->busy_poll_budget),
		.prefer_busy_poll = READ_ONCE(ep->prefer_busy_poll),
	};

	return copy_to_user(uarg, &p, sizeof(p)) ? -EFAULT : 0;
}

void xpoll_busy_init(void)
{
	struct file *f = filp_open("/proc/sys/net/core/busy_poll", O_RDONLY, 0);

	/* Without it, only the per-instance setting turns busy polling on. */
	if (IS_ERR(f)) {
		pr_info("xpoll: cannot read net.core.busy_poll (%ld)\n",
			PTR_ERR(f));
		return;
	}
	/* Our reads are nobody's business (no IN_ACCESS every 10 ms). */
	f->f_mode |= FMODE_NONOTIFY;
	xpoll_sysctl_file = f;
	WRITE_ONCE(xpoll_sysctl_read_at, jiffies - msecs_to_jiffies(XPOLL_SYSCTL_MS) - 1);
	xpoll_sysctl_refresh();
}

void xpoll_busy_exit(void)
{
	if (xpoll_sysctl_file)
		fput(xpoll_sysctl_file);
}

#else /* !CONFIG_NET_RX_BUSY_POLL */

void xpoll_busy_note(struct xpoll_instance *ep, struct file *file)
{
}

bool xpoll_busy_loop(struct xpoll_instance *ep, const ktime_t *expires)
{
	return false;
}

void xpoll_busy_add(struct xpoll_instance *ep, struct file *file)
{
}

/* As epoll's EPIOCSPARAMS and EPIOCGPARAMS on such a kernel. */
long xpoll_ioc_set_params(struct xpoll_instance *ep, void __user *uarg)
{
	return -EOPNOTSUPP;
}

long xpoll_ioc_get_params(struct xpoll_instance *ep, void __user *uarg)
{
	return -EOPNOTSUPP;
}

void xpoll_busy_init(void)
{
}

void xpoll_busy_exit(void)
{
}

#endif /* CONFIG_NET_RX_BUSY_POLL */
