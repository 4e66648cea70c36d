/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xpoll's tracepoints, under events/xpoll/ in tracefs (stats.c creates
 * them).  An instance is named by its id (struct xpoll_stats.id, fdinfo's
 * "id:"), an item by its fd (-1 for a user event; xpoll_ctl has its key):
 * no kernel pointer is ever recorded.  Disabled, each costs a static
 * branch.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM xpoll

#if !defined(_XPOLL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _XPOLL_TRACE_H

#include <linux/tracepoint.h>

/* A change (XPOLL_IOC_CTL, a batch, a change list), with its result. */
TRACE_EVENT(xpoll_ctl,
	    TP_PROTO(u64 id, u32 op, s32 fd, u32 events, u32 flags, u64 key,
		     int res),
	    TP_ARGS(id, op, fd, events, flags, key, res),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(u32, op)
			     __field(s32, fd)
			     __field(u32, events)
			     __field(u32, flags)
			     __field(u64, key)
			     __field(int, res)),
	    TP_fast_assign(__entry->id = id;
			   __entry->op = op;
			   __entry->fd = fd;
			   __entry->events = events;
			   __entry->flags = flags;
			   __entry->key = key;
			   __entry->res = res;),
	    TP_printk("id=%llu op=%u fd=%d events=0x%x flags=0x%x key=0x%llx res=%d",
		      __entry->id, __entry->op, __entry->fd, __entry->events,
		      __entry->flags, __entry->key, __entry->res)
);

/*
 * A wakeup of an item that matched its interest set: queued on the ready
 * list (or appended to the ring), diverted to the overflow list by a
 * transfer in progress, or neither (it was queued already).
 */
TRACE_EVENT(xpoll_callback,
	    TP_PROTO(u64 id, s32 fd, u32 key, bool queued, bool diverted),
	    TP_ARGS(id, fd, key, queued, diverted),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(s32, fd)
			     __field(u32, key)
			     __field(bool, queued)
			     __field(bool, diverted)),
	    TP_fast_assign(__entry->id = id;
			   __entry->fd = fd;
			   __entry->key = key;
			   __entry->queued = queued;
			   __entry->diverted = diverted;),
	    TP_printk("id=%llu fd=%d key=0x%x queued=%d diverted=%d",
		      __entry->id, __entry->fd, __entry->key, __entry->queued,
		      __entry->diverted)
);

/* An event delivered (stored for userspace, or appended to the ring). */
TRACE_EVENT(xpoll_deliver,
	    TP_PROTO(u64 id, s32 fd, u32 events, u64 data),
	    TP_ARGS(id, fd, events, data),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(s32, fd)
			     __field(u32, events)
			     __field(u64, data)),
	    TP_fast_assign(__entry->id = id;
			   __entry->fd = fd;
			   __entry->events = events;
			   __entry->data = data;),
	    TP_printk("id=%llu fd=%d events=0x%x data=0x%llx", __entry->id,
		      __entry->fd, __entry->events, __entry->data)
);

/* A wait (XPOLL_IOC_WAIT, or CTL_WAIT's after its changes) begins. */
TRACE_EVENT(xpoll_wait_begin,
	    TP_PROTO(u64 id, int maxevents, s64 timeout_ns, u32 min_events),
	    TP_ARGS(id, maxevents, timeout_ns, min_events),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(int, maxevents)
			     __field(s64, timeout_ns)
			     __field(u32, min_events)),
	    TP_fast_assign(__entry->id = id;
			   __entry->maxevents = maxevents;
			   __entry->timeout_ns = timeout_ns;
			   __entry->min_events = min_events;),
	    TP_printk("id=%llu maxevents=%d timeout_ns=%lld min_events=%u",
		      __entry->id, __entry->maxevents, __entry->timeout_ns,
		      __entry->min_events)
);

/* ... and ends: events returned or -errno, and whether it slept. */
TRACE_EVENT(xpoll_wait_end,
	    TP_PROTO(u64 id, int res, bool slept),
	    TP_ARGS(id, res, slept),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(int, res)
			     __field(bool, slept)),
	    TP_fast_assign(__entry->id = id;
			   __entry->res = res;
			   __entry->slept = slept;),
	    TP_printk("id=%llu res=%d slept=%d", __entry->id, __entry->res,
		      __entry->slept)
);

/* The last close of a watched file took its item out of the instance. */
TRACE_EVENT(xpoll_release,
	    TP_PROTO(u64 id, s32 fd),
	    TP_ARGS(id, fd),
	    TP_STRUCT__entry(__field(u64, id)
			     __field(s32, fd)),
	    TP_fast_assign(__entry->id = id;
			   __entry->fd = fd;),
	    TP_printk("id=%llu fd=%d", __entry->id, __entry->fd)
);
#endif /* _XPOLL_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
