// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics (XPOLL_FEAT_STATS): instance ids, XPOLL_IOC_STATS, the
 * fdinfo "id:" and "stats" lines, and the tracepoints (trace.h), which
 * are created here.
 *
 * The counters live in the instance (struct xpoll_counters, xpoll.h, which
 * says under which lock each is written); the paths count with the
 * helpers below.  A read takes no lock: each counter is read once, so a
 * reader sees every counter at some value it had, not all at one moment.
 * An instance's id is a global 64-bit sequence number, taken at open and
 * never reused: tracepoints and fdinfo name instances by it, never by a
 * pointer.
 */
#include <linux/atomic.h>
#include <linux/seq_file.h>

#define CREATE_TRACE_POINTS
#include "trace.h"
#include "xpoll.h"

static atomic64_t xpoll_last_id;

u64 xpoll_new_id(void)
{
	return atomic64_inc_return(&xpoll_last_id);
}

/* The user-visible figures of @ep, as XPOLL_IOC_STATS returns them. */
static void xpoll_stats_read(struct xpoll_instance *ep, struct xpoll_stats *st)
{
	const struct xpoll_counters *c = &ep->stats;
	int i;

	memset(st, 0, sizeof(*st));
	st->version = XPOLL_STATS_VERSION;
	st->id = ep->id;
	for (i = 0; i < XPOLL_STATS_OPS; i++) {
		st->ctl[i] = (unsigned long)atomic_long_read(&c->ctl[i]);
		st->ctl_errors[i] =
			(unsigned long)atomic_long_read(&c->ctl_errors[i]);
	}
	/* unsigned long: a 32-bit count must not sign-extend. */
	st->waits = (unsigned long)atomic_long_read(&c->waits);
	st->waits_slept = (unsigned long)atomic_long_read(&c->waits_slept);
	st->wakeups = (unsigned long)atomic_long_read(&c->wakeups);
	st->wakeups_spurious =
		(unsigned long)atomic_long_read(&c->wakeups_spurious);
	st->events = READ_ONCE(c->events);
	st->events_lt = READ_ONCE(c->events_lt);
	st->events_et = READ_ONCE(c->events_et);
	st->events_oneshot = READ_ONCE(c->events_oneshot);
	st->callbacks = READ_ONCE(c->callbacks);
	st->callbacks_ovf = READ_ONCE(c->callbacks_ovf);
	st->lt_requeues = READ_ONCE(c->lt_requeues);
	st->ready_max = READ_ONCE(c->ready_max);
	st->items = READ_ONCE(c->items);
}

long xpoll_ioc_stats(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_stats st;
	u32 flags;

	if (get_user(flags, &((struct xpoll_stats __user *)uarg)->flags))
		return -EFAULT;
	if (flags)
		return -EINVAL;
	xpoll_stats_read(ep, &st);
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

/* fdinfo's "id:" and "stats" lines, before the items' (fdinfo.c). */
void xpoll_stats_show(struct seq_file *m, struct xpoll_instance *ep)
{
	struct xpoll_stats st;

	xpoll_stats_read(ep, &st);
	seq_printf(m, "id: %llu\n", st.id);
	seq_printf(m, "stats ctl: add %llu del %llu mod %llu trigger %llu clear %llu other %llu\n",
		   st.ctl[XPOLL_CTL_ADD], st.ctl[XPOLL_CTL_DEL],
		   st.ctl[XPOLL_CTL_MOD], st.ctl[XPOLL_CTL_TRIGGER],
		   st.ctl[XPOLL_CTL_CLEAR], st.ctl[0]);
	seq_printf(m, "stats ctl_errors: add %llu del %llu mod %llu trigger %llu clear %llu other %llu\n",
		   st.ctl_errors[XPOLL_CTL_ADD], st.ctl_errors[XPOLL_CTL_DEL],
		   st.ctl_errors[XPOLL_CTL_MOD],
		   st.ctl_errors[XPOLL_CTL_TRIGGER],
		   st.ctl_errors[XPOLL_CTL_CLEAR], st.ctl_errors[0]);
	seq_printf(m, "stats wait: waits %llu slept %llu wakeups %llu spurious %llu\n",
		   st.waits, st.waits_slept, st.wakeups, st.wakeups_spurious);
	seq_printf(m, "stats events: events %llu lt %llu et %llu oneshot %llu requeues %llu\n",
		   st.events, st.events_lt, st.events_et, st.events_oneshot,
		   st.lt_requeues);
	seq_printf(m, "stats callbacks: callbacks %llu ovf %llu ready_max %llu items %llu\n",
		   st.callbacks, st.callbacks_ovf, st.ready_max, st.items);
}

/*
 * fdinfo's end of an item's line: how often it was reported and how long
 * ago, in ms (-1: never).
 */
void xpoll_item_stats_show(struct seq_file *m, const struct xpoll_item *it)
{
	u32 n = READ_ONCE(it->nr_reported);
	u32 ago = (u32)jiffies - READ_ONCE(it->last_reported);

	if (!n)
		seq_puts(m, " reported: 0 last_ms: -1\n");
	else
		seq_printf(m, " reported: %u last_ms: %u\n", n,
			   jiffies_to_msecs(ago));
}

/* Counts one change and its result, and traces it (ctl.c). */
void xpoll_ctl_done(struct xpoll_instance *ep, const struct xpoll_ctl *c,
		    int res)
{
	u32 op = c->op < XPOLL_STATS_OPS ? c->op : 0;

	xpoll_count_call(&ep->stats.ctl[op]);
	if (res)
		xpoll_count_call(&ep->stats.ctl_errors[op]);
	trace_xpoll_ctl(ep->id, c->op, c->fd, c->events, c->flags, c->key,
			res);
}
