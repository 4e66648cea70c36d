// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the xpoll core, in their own module (xpoll_kunit.ko).
 *
 * They drive xpoll.ko's internals (exported into the XPOLL_KUNIT
 * namespace only on kernels with KUnit) with a test-only pollable file
 * whose readiness the test sets: its ->poll() registers on one or two
 * wait queues and returns the mask the test chose, and the test signals
 * with wake_up_poll().  The test holds one reference on each such file,
 * standing for "the user's descriptor"; dropping it makes the target
 * closed as far as xpoll is concerned.
 */
#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/slab.h>

#include <linux/xpoll.h>
#include "../xpoll.h"

MODULE_IMPORT_NS(XPOLL_KUNIT);

/* --- the test-only pollable file --------------------------------------- */

struct xpt {
	wait_queue_head_t wq[2];
	int nwq;		/* queues ->poll() registers on */
	__poll_t mask;		/* what ->poll() reports */
	atomic_t polls;		/* ->poll() calls */
	bool *released;		/* set by ->release, if not NULL */
};

static __poll_t xpt_poll(struct file *file, poll_table *pt)
{
	struct xpt *x = file->private_data;
	int i;

	atomic_inc(&x->polls);
	for (i = 0; i < x->nwq; i++)
		poll_wait(file, &x->wq[i], pt);
	return READ_ONCE(x->mask);
}

static int xpt_release(struct inode *inode, struct file *file)
{
	struct xpt *x = file->private_data;

	if (x->released)
		*x->released = true;
	/* A wait queue may be read under RCU after POLLFREE: see xpoll.h. */
	kfree_rcu_mightsleep(x);
	return 0;
}

static const struct file_operations xpt_fops = {
	.owner = THIS_MODULE,
	.poll = xpt_poll,
	.release = xpt_release,
};

static struct file *xpt_new(struct kunit *test, int nwq, __poll_t mask)
{
	struct file *f;
	struct xpt *x;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, x);
	init_waitqueue_head(&x->wq[0]);
	init_waitqueue_head(&x->wq[1]);
	x->nwq = nwq;
	x->mask = mask;
	f = anon_inode_getfile("[xpoll-test]", &xpt_fops, x, O_RDWR);
	if (IS_ERR(f))
		kfree(x);
	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	return f;
}

/* __poll_t is a sparse bitwise type; KUnit compares plain integers. */
static u32 pv(__poll_t p)
{
	return (__force u32)p;
}

/* The instance's own poll, as a poller at the top of a chain sees it. */
static u32 inst_poll(struct file *xf)
{
	return pv(xpoll_instance_poll(xf->private_data, NULL, 0, false));
}

/* The tests only look, after the fact, whether an entry is queued. */
static bool has_waiters(struct wait_queue_head *wq)
{
	/* No ordering needed: the test itself made the state it checks. */
	return waitqueue_active(wq);
}

static struct xpt *xpt_of(struct file *f)
{
	return f->private_data;
}

/* Changes the readiness and signals it on queue @q. */
static void xpt_signal(struct file *f, int q, __poll_t mask)
{
	WRITE_ONCE(xpt_of(f)->mask, mask);
	wake_up_poll(&xpt_of(f)->wq[q], mask);
}

/*
 * Drops the test's reference and runs any release at once.  fput() from a
 * kthread also schedules delayed_fput_work, which may take the file first
 * and still be in its release when flush_delayed_fput() returns; so the
 * last reference is put here, synchronously.
 */
static void put_file(struct file *f)
{
	__fput_sync(f);
	flush_delayed_fput();
}

/* --- helpers ------------------------------------------------------------- */

struct kev {
	__poll_t events;
	u64 data;
};

struct ksink {
	struct xpoll_sink sink;
	struct kev ev[48];
	int calls;		/* put() calls: one per chunk */
	int fail_at;		/* put() fails at this index, or -1 */
	void (*hook)(struct ksink *ks, int idx);	/* runs inside put() */
	void *hook_arg;
};

static int ksink_put(struct xpoll_sink *sink, int idx,
		     const struct epoll_event *evs, int n)
{
	struct ksink *ks = container_of(sink, struct ksink, sink);
	int i;

	ks->calls++;
	for (i = 0; i < n; i++, idx++) {
		if (idx == ks->fail_at || idx >= ARRAY_SIZE(ks->ev))
			break;
		if (ks->hook)
			ks->hook(ks, idx);
		ks->ev[idx].events = evs[i].events;
		ks->ev[idx].data = evs[i].data;
	}
	return i;
}

static void ksink_init(struct ksink *ks)
{
	memset(ks, 0, sizeof(*ks));
	ks->sink.put = ksink_put;
	ks->fail_at = -1;
}

static struct file *inst_new(struct kunit *test)
{
	struct file *f = xpoll_instance_new_file();

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	return f;
}

static struct xpoll_instance *ep_of(struct file *f)
{
	return f->private_data;
}

static int ctl(struct file *xf, int op, struct file *tf, int fd, __poll_t ev,
	       u64 data)
{
	return xpoll_ctl_file(ep_of(xf), op, tf, fd, ev, data);
}

/* A non-blocking wait into @ks; returns the count or -errno. */
static int wait0(struct file *xf, struct ksink *ks, int max)
{
	return xpoll_wait_sink(ep_of(xf), &ks->sink, max, 0);
}

static bool on_ready_list(struct xpoll_instance *ep, struct file *tf, int fd)
{
	struct xpoll_item *it;
	bool ret;

	mutex_lock(&ep->mtx);
	it = xpoll_find(ep, tf, fd);
	spin_lock_irq(&ep->lock);
	ret = it && !list_empty(&it->rdllink);
	spin_unlock_irq(&ep->lock);
	mutex_unlock(&ep->mtx);
	return ret;
}

/* --- suite: interest tree ----------------------------------------------- */

static void xpoll_rbtree_order_lookup(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf[4];
	struct xpoll_instance *ep = ep_of(xf);
	struct xpoll_item *it, *prev = NULL;
	struct rb_node *rbp;
	int i, n = 0;

	for (i = 0; i < 4; i++)
		tf[i] = xpt_new(test, 1, 0);
	/* Two fds of one file are two items; insertion order scrambled. */
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[2], 9, EPOLLIN, 1), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[0], 5, EPOLLIN, 2), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[2], 3, EPOLLIN, 3), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[3], 1, EPOLLIN, 4), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[1], 7, EPOLLIN, 5), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[0], 5, EPOLLIN, 6),
			-EEXIST);

	mutex_lock(&ep->mtx);
	for (rbp = rb_first_cached(&ep->rbr); rbp; rbp = rb_next(rbp)) {
		it = rb_entry(rbp, struct xpoll_item, rbn);
		if (prev)
			KUNIT_EXPECT_TRUE(test, prev->file < it->file ||
					  (prev->file == it->file &&
					   prev->fd < it->fd));
		prev = it;
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, 5);
	it = xpoll_find(ep, tf[2], 3);
	KUNIT_EXPECT_TRUE(test, it && it->data == 3);
	it = xpoll_find(ep, tf[2], 9);
	KUNIT_EXPECT_TRUE(test, it && it->data == 1);
	KUNIT_EXPECT_NULL(test, xpoll_find(ep, tf[2], 4));
	KUNIT_EXPECT_NULL(test, xpoll_find(ep, tf[1], 5));
	mutex_unlock(&ep->mtx);

	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_DEL, tf[2], 3, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_DEL, tf[2], 3, 0, 0), -ENOENT);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_MOD, tf[2], 3, EPOLLIN, 0),
			-ENOENT);
	mutex_lock(&ep->mtx);
	KUNIT_EXPECT_NULL(test, xpoll_find(ep, tf[2], 3));
	KUNIT_EXPECT_NOT_NULL(test, xpoll_find(ep, tf[2], 9));
	mutex_unlock(&ep->mtx);

	put_file(xf);
	for (i = 0; i < 4; i++)
		put_file(tf[i]);
}

static void xpoll_ctl_errors(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf = xpt_new(test, 1, 0);
	struct file *xf2 = inst_new(test);

	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, xf, 3, EPOLLIN, 0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, ctl(xf, 9, tf, 3, EPOLLIN, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3,
				  EPOLLIN | EPOLLEXCLUSIVE | EPOLLPRI, 0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, xf2, 4,
				  EPOLLIN | EPOLLEXCLUSIVE, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3,
				  EPOLLIN | EPOLLEXCLUSIVE, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_MOD, tf, 3,
				  EPOLLIN | EPOLLEXCLUSIVE, 0), -EINVAL);
	/* An item added exclusive cannot be modified at all. */
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_MOD, tf, 3, EPOLLIN, 0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_DEL, tf, 3, 0, 0), 0);
	put_file(xf2);
	put_file(xf);
	put_file(tf);
}

/* --- suite: callbacks ---------------------------------------------------- */

static void xpoll_callback_filter(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf = xpt_new(test, 1, 0);
	struct xpoll_instance *ep = ep_of(xf);

	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 7), 0);
	KUNIT_EXPECT_FALSE(test, on_ready_list(ep, tf, 3));

	/* A key outside the interest set does not queue the item. */
	xpt_signal(tf, 0, EPOLLOUT);
	KUNIT_EXPECT_FALSE(test, on_ready_list(ep, tf, 3));
	/* EPOLLHUP is always in the interest set. */
	wake_up_poll(&xpt_of(tf)->wq[0], EPOLLHUP);
	KUNIT_EXPECT_TRUE(test, on_ready_list(ep, tf, 3));
	/* ... but the re-poll drops it: nothing is ready. */
	WRITE_ONCE(xpt_of(tf)->mask, 0);
	{
		struct ksink ks;

		ksink_init(&ks);
		KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	}
	KUNIT_EXPECT_FALSE(test, on_ready_list(ep, tf, 3));

	/* A matching key queues it, once. */
	xpt_signal(tf, 0, EPOLLIN);
	xpt_signal(tf, 0, EPOLLIN);
	KUNIT_EXPECT_TRUE(test, on_ready_list(ep, tf, 3));
	KUNIT_EXPECT_EQ(test, list_count_nodes(&ep->rdllist), 1);

	/* A wakeup without a key counts as a match. */
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_DEL, tf, 3, 0, 0), 0);
	WRITE_ONCE(xpt_of(tf)->mask, 0);
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 7), 0);
	wake_up(&xpt_of(tf)->wq[0]);
	KUNIT_EXPECT_TRUE(test, on_ready_list(ep, tf, 3));

	put_file(xf);
	put_file(tf);
}

static void xpoll_callback_two_queues(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf = xpt_new(test, 2, 0);
	struct xpoll_instance *ep = ep_of(xf);
	struct ksink ks;
	struct xpoll_item *it;
	int n = 0;
	struct xpoll_pwq *pwq;

	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 7), 0);
	mutex_lock(&ep->mtx);
	it = xpoll_find(ep, tf, 3);
	for (pwq = &it->pwq; pwq; pwq = pwq->next)
		n++;
	mutex_unlock(&ep->mtx);
	KUNIT_EXPECT_EQ(test, n, 2);

	/* A wakeup on the second queue is seen too. */
	xpt_signal(tf, 1, EPOLLIN);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 7ULL);
	put_file(xf);
	/* Both entries are gone: a wakeup must not touch the freed item. */
	xpt_signal(tf, 0, EPOLLIN);
	xpt_signal(tf, 1, EPOLLIN);
	KUNIT_EXPECT_FALSE(test, has_waiters(&xpt_of(tf)->wq[0]));
	KUNIT_EXPECT_FALSE(test, has_waiters(&xpt_of(tf)->wq[1]));
	put_file(tf);
}

static void xpoll_callback_pollfree(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf = xpt_new(test, 2, 0);
	struct xpoll_instance *ep = ep_of(xf);

	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 7), 0);
	/* Queue 1 dies before the file (as signalfd's sighand does). */
	wake_up_pollfree(&xpt_of(tf)->wq[1]);
	KUNIT_EXPECT_FALSE(test, has_waiters(&xpt_of(tf)->wq[1]));
	KUNIT_EXPECT_TRUE(test, on_ready_list(ep, tf, 3));
	/* Removal skips the detached entry, unhooks the other one. */
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_DEL, tf, 3, 0, 0), 0);
	KUNIT_EXPECT_FALSE(test, has_waiters(&xpt_of(tf)->wq[0]));
	put_file(xf);
	put_file(tf);
}

/* --- suite: transfer ----------------------------------------------------- */

static void xpoll_transfer_modes(struct kunit *test)
{
	struct file *xf = inst_new(test), *lt, *et, *os;
	struct xpoll_instance *ep = ep_of(xf);
	struct xpoll_item *it;
	struct ksink ks;

	lt = xpt_new(test, 1, EPOLLIN);
	et = xpt_new(test, 1, EPOLLIN);
	os = xpt_new(test, 1, EPOLLIN);
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, lt, 1, EPOLLIN, 1), 0);
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, et, 2,
				  EPOLLIN | EPOLLET, 2), 0);
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, os, 3,
				  EPOLLIN | EPOLLONESHOT, 3), 0);

	ksink_init(&ks);
	KUNIT_ASSERT_EQ(test, wait0(xf, &ks, 16), 3);
	/* Reported in the order they became ready. */
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 1ULL);
	KUNIT_EXPECT_EQ(test, ks.ev[1].data, 2ULL);
	KUNIT_EXPECT_EQ(test, ks.ev[2].data, 3ULL);
	KUNIT_EXPECT_EQ(test, pv(ks.ev[0].events), pv(EPOLLIN));

	/* LT re-queued, ET not, ONESHOT disarmed to its mode bits. */
	KUNIT_EXPECT_TRUE(test, on_ready_list(ep, lt, 1));
	KUNIT_EXPECT_FALSE(test, on_ready_list(ep, et, 2));
	KUNIT_EXPECT_FALSE(test, on_ready_list(ep, os, 3));
	mutex_lock(&ep->mtx);
	it = xpoll_find(ep, os, 3);
	KUNIT_EXPECT_EQ(test, pv(it->events), pv(EPOLLONESHOT));
	mutex_unlock(&ep->mtx);

	/* Disarmed: a new event is filtered by the callback. */
	xpt_signal(os, 0, EPOLLIN);
	KUNIT_EXPECT_FALSE(test, on_ready_list(ep, os, 3));
	xpt_signal(et, 0, EPOLLIN);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 2);	/* lt and et */

	/* MOD re-arms the one-shot item, and finds it ready. */
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_MOD, os, 3,
				  EPOLLIN | EPOLLONESHOT, 33), 0);
	KUNIT_EXPECT_TRUE(test, on_ready_list(ep, os, 3));
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 2);	/* lt and os */

	/* LT stops once the target is no longer ready. */
	WRITE_ONCE(xpt_of(lt)->mask, 0);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	KUNIT_EXPECT_FALSE(test, on_ready_list(ep, lt, 1));

	put_file(xf);
	put_file(lt);
	put_file(et);
	put_file(os);
}

/* Fires the other file's event while the transfer copies out. */
static void fire_hook(struct ksink *ks, int idx)
{
	struct file *other = ks->hook_arg;

	if (idx == 0)
		xpt_signal(other, 0, EPOLLIN);
}

static void xpoll_transfer_overflow(struct kunit *test)
{
	struct file *xf = inst_new(test), *a, *b, *c;
	struct xpoll_instance *ep = ep_of(xf);
	struct ksink ks;

	a = xpt_new(test, 1, EPOLLIN);
	b = xpt_new(test, 1, 0);
	c = xpt_new(test, 1, 0);
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, a, 1,
				  EPOLLIN | EPOLLET, 1), 0);
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, b, 2,
				  EPOLLIN | EPOLLET, 2), 0);
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, c, 3,
				  EPOLLIN | EPOLLET, 3), 0);

	/* b fires during the copy-out: it goes to ovflist, then back. */
	ksink_init(&ks);
	ks.hook = fire_hook;
	ks.hook_arg = b;
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 1ULL);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(ep->ovflist),
			    (struct xpoll_item *)XPOLL_UNACTIVE);
	KUNIT_EXPECT_TRUE(test, on_ready_list(ep, b, 2));
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 2ULL);

	/* EFAULT on the first event loses nothing. */
	xpt_signal(b, 0, EPOLLIN);
	xpt_signal(c, 0, EPOLLIN);
	ksink_init(&ks);
	ks.fail_at = 0;
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), -EFAULT);
	/* EFAULT after one event: that one counts, the rest stay. */
	ksink_init(&ks);
	ks.fail_at = 1;
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 2ULL);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 3ULL);

	/* maxevents: the rest stay ready, in order. */
	xpt_signal(a, 0, EPOLLIN);
	xpt_signal(b, 0, EPOLLIN);
	xpt_signal(c, 0, EPOLLIN);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 2), 2);
	KUNIT_EXPECT_EQ(test, ks.ev[1].data, 2ULL);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 2), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 3ULL);

	put_file(xf);
	put_file(a);
	put_file(b);
	put_file(c);
}

/*
 * Events leave in chunks: a fault in the second chunk delivers the first
 * chunk and the part of the second before the fault, and the items after it
 * stay ready and armed, in order, in front of the re-queued ones.
 */
#define NCHUNKT 40
static void xpoll_transfer_chunks(struct kunit *test)
{
	static const __poll_t mode[3] = { 0, EPOLLET, EPOLLONESHOT };
	struct file *xf = inst_new(test), *tf[NCHUNKT];
	struct xpoll_instance *ep = ep_of(xf);
	struct xpoll_item *it;
	struct ksink ks;
	int i, k;

	for (i = 0; i < NCHUNKT; i++) {
		tf[i] = xpt_new(test, 1, EPOLLIN);
		KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[i], i,
					  EPOLLIN | mode[i % 3], i), 0);
	}

	ksink_init(&ks);
	ks.fail_at = 20;
	KUNIT_ASSERT_EQ(test, wait0(xf, &ks, 48), 20);
	KUNIT_EXPECT_EQ(test, ks.calls, 2);
	for (i = 0; i < 20; i++)
		KUNIT_EXPECT_EQ(test, ks.ev[i].data, (u64)i);
	for (i = 0; i < NCHUNKT; i++) {
		bool sent = i < 20;

		KUNIT_EXPECT_EQ_MSG(test, on_ready_list(ep, tf[i], i),
				    !sent || !mode[i % 3], "item %d", i);
		mutex_lock(&ep->mtx);
		it = xpoll_find(ep, tf[i], i);
		KUNIT_EXPECT_EQ_MSG(test, !!(it->events & EPOLLIN),
				    !sent || mode[i % 3] != EPOLLONESHOT,
				    "item %d", i);
		mutex_unlock(&ep->mtx);
	}

	/* The unsent ones first, then the level-triggered sent ones. */
	ksink_init(&ks);
	KUNIT_ASSERT_EQ(test, wait0(xf, &ks, 48), 27);
	KUNIT_EXPECT_EQ(test, ks.calls, 2);
	for (i = 0; i < 20; i++)
		KUNIT_EXPECT_EQ(test, ks.ev[i].data, (u64)(20 + i));
	for (k = 0; k < 7; k++)
		KUNIT_EXPECT_EQ(test, ks.ev[20 + k].data, (u64)(3 * k));

	/* maxevents ends the second chunk early. */
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 17), 14);	/* LT only now */
	ksink_init(&ks);
	for (i = 0; i < NCHUNKT; i += 3)
		xpt_signal(tf[i + 1 < NCHUNKT ? i + 1 : i], 0, EPOLLIN);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 17), 17);
	KUNIT_EXPECT_EQ(test, ks.calls, 2);

	put_file(xf);
	for (i = 0; i < NCHUNKT; i++)
		put_file(tf[i]);
}

struct waiter {
	struct file *xf;
	struct completion done;
	int res;
};

static int waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct ksink ks;

	ksink_init(&ks);
	w->res = xpoll_wait_sink(ep_of(w->xf), &ks.sink, 16,
				 400 * NSEC_PER_MSEC);
	complete(&w->done);
	return 0;
}

static void xpoll_transfer_blocking_and_exclusive(struct kunit *test)
{
	struct file *xf[2], *tf = xpt_new(test, 1, 0);
	struct task_struct *t;
	struct waiter w[2];
	int i, got = 0, loops = 0;

	for (i = 0; i < 2; i++) {
		xf[i] = inst_new(test);
		KUNIT_ASSERT_EQ(test, ctl(xf[i], XPOLL_CTL_ADD, tf, 3,
					  EPOLLIN | EPOLLEXCLUSIVE, i), 0);
		w[i].xf = xf[i];
		init_completion(&w[i].done);
		t = kthread_run(waiter_fn, &w[i], "xpoll-kunit-%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	}
	/* Both blocked in their instance's wait queue. */
	while ((!has_waiters(&ep_of(xf[0])->wq) ||
		!has_waiters(&ep_of(xf[1])->wq)) && loops++ < 500)
		msleep(20);
	KUNIT_ASSERT_LT(test, loops, 500);

	/* One exclusive wakeup reaches one instance only. */
	xpt_signal(tf, 0, EPOLLIN);
	for (i = 0; i < 2; i++) {
		wait_for_completion(&w[i].done);
		KUNIT_EXPECT_GE(test, w[i].res, 0);
		got += w[i].res;
	}
	KUNIT_EXPECT_EQ(test, got, 1);

	for (i = 0; i < 2; i++)
		put_file(xf[i]);
	put_file(tf);
}

/* --- suite: nesting -------------------------------------------------------- */

static void xpoll_nest_loop_and_depth(struct kunit *test)
{
	struct file *x[7], *tf = xpt_new(test, 1, EPOLLIN);
	struct ksink ks;
	int i;

	for (i = 0; i < 7; i++)
		x[i] = inst_new(test);
	/* x[i] watches x[i - 1]: levels x0 .. x4 are allowed (5 levels). */
	KUNIT_ASSERT_EQ(test, ctl(x[0], XPOLL_CTL_ADD, tf, 3, EPOLLIN, 99), 0);
	for (i = 1; i <= 4; i++)
		KUNIT_EXPECT_EQ(test, ctl(x[i], XPOLL_CTL_ADD, x[i - 1], i,
					  EPOLLIN, i), 0);
	KUNIT_EXPECT_EQ(test, ctl(x[5], XPOLL_CTL_ADD, x[4], 5, EPOLLIN, 5),
			-ELOOP);
	/* Too deep counted upwards as well. */
	KUNIT_EXPECT_EQ(test, ctl(x[0], XPOLL_CTL_ADD, x[5], 5, EPOLLIN, 5),
			-ELOOP);
	/* Cycles. */
	KUNIT_EXPECT_EQ(test, ctl(x[0], XPOLL_CTL_ADD, x[1], 1, EPOLLIN, 1),
			-ELOOP);
	KUNIT_EXPECT_EQ(test, ctl(x[1], XPOLL_CTL_ADD, x[3], 3, EPOLLIN, 1),
			-ELOOP);
	/* A fan-out at the same depth is fine. */
	KUNIT_EXPECT_EQ(test, ctl(x[6], XPOLL_CTL_ADD, x[0], 1, EPOLLIN, 1),
			0);
	KUNIT_EXPECT_EQ(test, ctl(x[2], XPOLL_CTL_ADD, x[6], 6, EPOLLIN, 6),
			0);

	/* The event climbs the chain; each level reports its child. */
	KUNIT_EXPECT_EQ(test, inst_poll(x[4]), pv(EPOLLIN | EPOLLRDNORM));
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(x[4], &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 4ULL);
	/* Not ready at the leaf: nobody above is ready either. */
	WRITE_ONCE(xpt_of(tf)->mask, 0);
	KUNIT_EXPECT_EQ(test, inst_poll(x[4]), 0U);

	/* DEL breaks the chain and frees the depth. */
	KUNIT_EXPECT_EQ(test, ctl(x[4], XPOLL_CTL_DEL, x[3], 4, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(x[5], XPOLL_CTL_ADD, x[4], 5, EPOLLIN, 5),
			0);

	for (i = 6; i >= 0; i--)
		put_file(x[i]);
	put_file(tf);
}

/* A poller of an instance that only counts its wakeups. */
struct kpoller {
	wait_queue_entry_t wait;
	atomic_t wakes;
};

static int kpoller_wake(wait_queue_entry_t *wait, unsigned int mode,
			int sync, void *key)
{
	atomic_inc(&container_of(wait, struct kpoller, wait)->wakes);
	return 0;
}

static void kpoller_add(struct kpoller *p, struct file *xf)
{
	init_waitqueue_func_entry(&p->wait, kpoller_wake);
	atomic_set(&p->wakes, 0);
	add_wait_queue(&ep_of(xf)->poll_wait, &p->wait);
}

/* Lets every poller wakeup of @x[0..n) run, one nesting level a round. */
static void sync_wakes(struct file **x, int n)
{
	int round, i;

	for (round = 0; round <= XPOLL_MAX_NESTS + 1; round++)
		for (i = 0; i < n; i++)
			irq_work_sync(&ep_of(x[i])->pw_work);
}

/*
 * Three layers of W instances, each watching the whole layer below, the
 * bottom one a file: 4 + 16 + 16 edges, and 16 paths from the file to
 * each top instance.  One event must wake each instance's pollers once
 * (not once per path: 4 and 16 times), and still reach every top one.
 */
static void xpoll_nest_wake_once(struct kunit *test)
{
	enum { W = 4 };
	struct file *tf = xpt_new(test, 1, 0), *x[3 * W];
	struct file **b = x, **a = x + W, **c = x + 2 * W;
	struct kpoller pa[W], pc[W];
	struct ksink ks;
	int i, j;

	for (i = 0; i < 3 * W; i++)
		x[i] = inst_new(test);
	for (i = 0; i < W; i++) {
		KUNIT_ASSERT_EQ(test, ctl(b[i], XPOLL_CTL_ADD, tf, 3, EPOLLIN,
					  i), 0);
		for (j = 0; j < W; j++) {
			KUNIT_ASSERT_EQ(test, ctl(a[i], XPOLL_CTL_ADD, b[j],
						  10 + j, EPOLLIN, j), 0);
			KUNIT_ASSERT_EQ(test, ctl(c[i], XPOLL_CTL_ADD, a[j],
						  20 + j, EPOLLIN, j), 0);
		}
	}
	for (i = 0; i < W; i++) {
		kpoller_add(&pa[i], a[i]);
		kpoller_add(&pc[i], c[i]);
	}

	xpt_signal(tf, 0, EPOLLIN);
	sync_wakes(x, 3 * W);
	for (i = 0; i < W; i++) {
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&pa[i].wakes), 1,
				    "middle instance %d", i);
		KUNIT_EXPECT_EQ_MSG(test, atomic_read(&pc[i].wakes), 1,
				    "top instance %d", i);
		ksink_init(&ks);
		KUNIT_EXPECT_EQ(test, wait0(c[i], &ks, 16), W);
	}

	for (i = 0; i < W; i++) {
		remove_wait_queue(&ep_of(a[i])->poll_wait, &pa[i].wait);
		remove_wait_queue(&ep_of(c[i])->poll_wait, &pc[i].wait);
	}
	for (i = 3 * W - 1; i >= 0; i--)
		put_file(x[i]);
	put_file(tf);
}

/* --- suite: accounting and lifetime ------------------------------------- */

static void xpoll_watch_accounting(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf = xpt_new(test, 1, 0);
	/* Keeps the uid's counter alive after xf is closed. */
	struct file *keep = inst_new(test);
	unsigned long saved = xpoll_max_user_watches;
	long base = xpoll_user_watches(current_uid());

	KUNIT_ASSERT_GE(test, base, 0L);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 4, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base + 2);

	WRITE_ONCE(xpoll_max_user_watches, base + 2);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 5, EPOLLIN, 0),
			-ENOSPC);
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base + 2);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_DEL, tf, 3, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 5, EPOLLIN, 0), 0);
	WRITE_ONCE(xpoll_max_user_watches, saved);

	put_file(xf);
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base);
	put_file(keep);
	put_file(tf);
}

static void xpoll_instance_lifecycle(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf = xpt_new(test, 1, EPOLLIN);
	long targets = xpoll_nr_targets();
	bool released = false;

	xpt_of(tf)->released = &released;
	KUNIT_EXPECT_EQ(test, file_count(xf), 1L);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 4, EPOLLIN, 0), 0);
	/* One target, and no reference on it: watches do not keep files. */
	KUNIT_EXPECT_EQ(test, file_count(tf), 1L);
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets + 1);

	/* Closing the instance drops the items. */
	put_file(xf);
	KUNIT_EXPECT_EQ(test, file_count(tf), 1L);
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets);
	KUNIT_EXPECT_FALSE(test, released);
	put_file(tf);
	KUNIT_EXPECT_TRUE(test, released);
}

/* Items of @xf once the closed ones are removed (as a ctl would first). */
static long nr_items(struct file *xf)
{
	struct xpoll_instance *ep = ep_of(xf);
	struct rb_node *rbp;
	long n = 0;

	mutex_lock(&ep->mtx);
	xpoll_reap_closed(ep);
	for (rbp = rb_first_cached(&ep->rbr); rbp; rbp = rb_next(rbp))
		n++;
	mutex_unlock(&ep->mtx);
	return n;
}

static void xpoll_target_closed(struct kunit *test)
{
	struct file *xf = inst_new(test), *xf2 = inst_new(test);
	struct file *tf = xpt_new(test, 1, EPOLLIN);
	long targets = xpoll_nr_targets();
	bool released = false;
	struct ksink ks;

	xpt_of(tf)->released = &released;
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf2, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 0), 0);
	/* The user keeps a second reference (a dup): still reported. */
	get_file(tf);
	put_file(tf);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);

	/*
	 * The user closes the last descriptor: the file is released at
	 * once, and its close removed it from both instances first.
	 */
	put_file(tf);
	KUNIT_EXPECT_TRUE(test, released);
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets);
	/* Gone at the next ctl or reap work (nr_items() reaps as one). */
	KUNIT_EXPECT_EQ(test, nr_items(xf), 0L);
	KUNIT_EXPECT_EQ(test, nr_items(xf2), 0L);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);

	/* Nested: closing the inner instance removes the outer one's item. */
	KUNIT_EXPECT_EQ(test, ctl(xf2, XPOLL_CTL_ADD, xf, 5, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, file_count(xf), 1L);
	put_file(xf);
	KUNIT_EXPECT_EQ(test, nr_items(xf2), 0L);
	put_file(xf2);
}

/*
 * The close of a watched file never waits for the instances that watch
 * it (it runs inside fsnotify's SRCU read section): with the instance's
 * mutex held, as a wait stalled on a page fault holds it, the file is
 * still released at once and the watch given back; the item goes when
 * the mutex is free again.
 */
static void xpoll_close_while_locked(struct kunit *test)
{
	struct file *xf = inst_new(test), *tf = xpt_new(test, 1, EPOLLIN);
	long targets = xpoll_nr_targets();
	long base = xpoll_user_watches(current_uid());
	bool released = false;
	struct ksink ks;

	xpt_of(tf)->released = &released;
	KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base + 1);
	mutex_lock(&ep_of(xf)->mtx);
	put_file(tf);
	KUNIT_EXPECT_TRUE(test, released);
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets);
	/* Still in the tree, closed, and still charged to the user. */
	KUNIT_EXPECT_FALSE(test, RB_EMPTY_ROOT(&ep_of(xf)->rbr.rb_root));
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base + 1);
	mutex_unlock(&ep_of(xf)->mtx);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	/* The reap work, tried again after the mutex was free, removes it. */
	flush_delayed_work(&ep_of(xf)->reap_work);
	mutex_lock(&ep_of(xf)->mtx);
	KUNIT_EXPECT_TRUE(test, RB_EMPTY_ROOT(&ep_of(xf)->rbr.rb_root));
	mutex_unlock(&ep_of(xf)->mtx);
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base);
	put_file(xf);
}

/*
 * Hundreds of files, every other one closed, a third of them also watched
 * by a second instance: each close removes exactly its file's items, from
 * both instances, and releases the file before put_file() returns.
 */
static void xpoll_close_many(struct kunit *test)
{
	enum { NF = 600 };
	struct file *xf = inst_new(test), *xf2 = inst_new(test);
	long targets = xpoll_nr_targets();
	struct file **tf;
	bool *rel;
	int i;

	tf = kunit_kcalloc(test, NF, sizeof(*tf), GFP_KERNEL);
	rel = kunit_kcalloc(test, NF, sizeof(*rel), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tf);
	KUNIT_ASSERT_NOT_NULL(test, rel);
	for (i = 0; i < NF; i++) {
		tf[i] = xpt_new(test, 1, 0);
		xpt_of(tf[i])->released = &rel[i];
		KUNIT_ASSERT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf[i], i, EPOLLIN,
					  i), 0);
		if (i % 3 == 0)
			KUNIT_ASSERT_EQ(test, ctl(xf2, XPOLL_CTL_ADD, tf[i], i,
						  EPOLLIN, i), 0);
	}
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets + NF);

	for (i = 0; i < NF; i += 2) {
		put_file(tf[i]);
		KUNIT_EXPECT_TRUE_MSG(test, rel[i], "file %d", i);
	}
	for (i = 1; i < NF; i += 2)
		KUNIT_EXPECT_FALSE_MSG(test, rel[i], "file %d", i);
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets + NF / 2);
	KUNIT_EXPECT_EQ(test, nr_items(xf), (long)NF / 2);
	/* Live files of xf2: i % 3 == 0 and i odd, that is i % 6 == 3. */
	KUNIT_EXPECT_EQ(test, nr_items(xf2), (long)NF / 6);

	put_file(xf);
	put_file(xf2);
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets);
	for (i = 1; i < NF; i += 2) {
		put_file(tf[i]);
		KUNIT_EXPECT_TRUE(test, rel[i]);
	}
}

/*
 * Few files watched by many instances: 16 files in 800 instances each,
 * 12,800 items; each file's close removes its 800 items.
 */
static void xpoll_close_shared_files(struct kunit *test)
{
	enum { NF = 16, NI = 800 };
	long targets = xpoll_nr_targets();
	struct file *tf[NF], **xf;
	bool rel[NF] = { };
	int i, j;

	xf = kunit_kcalloc(test, NI, sizeof(*xf), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, xf);
	for (i = 0; i < NF; i++) {
		tf[i] = xpt_new(test, 1, 0);
		xpt_of(tf[i])->released = &rel[i];
	}
	for (j = 0; j < NI; j++) {
		xf[j] = inst_new(test);
		for (i = 0; i < NF; i++)
			KUNIT_ASSERT_EQ(test, ctl(xf[j], XPOLL_CTL_ADD, tf[i],
						  i, EPOLLIN, i), 0);
	}
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets + NF);

	for (i = 0; i < NF; i++) {
		put_file(tf[i]);
		KUNIT_EXPECT_TRUE_MSG(test, rel[i], "file %d", i);
	}
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets);
	for (j = 0; j < NI; j++) {
		KUNIT_EXPECT_EQ(test, nr_items(xf[j]), 0L);
		put_file(xf[j]);
	}
}

/*
 * A file whose close fsnotify does not report (FMODE_NONOTIFY, as
 * pty masters) is pinned: xpoll holds one reference, its items stop
 * reporting once the user's is gone, and the reaper removes them and
 * releases the file.
 */
static void xpoll_pinned_file(struct kunit *test)
{
	struct file *xf = inst_new(test), *xf2 = inst_new(test);
	struct file *tf = xpt_new(test, 1, EPOLLIN);
	long targets = xpoll_nr_targets();
	bool released = false;
	struct ksink ks;

	tf->f_mode |= FMODE_NONOTIFY;
	xpt_of(tf)->released = &released;
	KUNIT_EXPECT_EQ(test, ctl(xf, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, ctl(xf2, XPOLL_CTL_ADD, tf, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, file_count(tf), 2L);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);

	put_file(tf);
	KUNIT_EXPECT_FALSE(test, released);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	KUNIT_EXPECT_EQ(test, inst_poll(xf2), 0U);
	xpoll_reap_now();
	flush_delayed_fput();
	KUNIT_EXPECT_TRUE(test, released);
	KUNIT_EXPECT_EQ(test, xpoll_nr_targets(), targets);
	KUNIT_EXPECT_EQ(test, nr_items(xf), 0L);
	KUNIT_EXPECT_EQ(test, nr_items(xf2), 0L);
	put_file(xf);
	put_file(xf2);
}

/*
 * A timed wait may end as late as epoll_pwait2 allows: 0.1 % of the
 * timeout, at most 100 ms, at least the task's own timer slack (this
 * KUnit thread is neither niced nor real-time).
 */
static void xpoll_transfer_timer_slack(struct kunit *test)
{
	u64 own = current->timer_slack_ns;

	KUNIT_EXPECT_EQ(test, xpoll_timer_slack(10 * NSEC_PER_SEC),
			max_t(u64, 10 * NSEC_PER_MSEC, own));
	KUNIT_EXPECT_EQ(test, xpoll_timer_slack(1000 * NSEC_PER_SEC),
			max_t(u64, 100 * NSEC_PER_MSEC, own));
	KUNIT_EXPECT_EQ(test, xpoll_timer_slack(NSEC_PER_MSEC), own);
}

/* --- user events and minimum-count waits ------------------------------ */

static int uctl(struct file *xf, u32 op, u64 key, u32 events, u64 data)
{
	struct xpoll_ctl c = {
		.op = op, .fd = -1, .events = events, .flags = XPOLL_CTL_USER,
		.data = data, .key = key,
	};

	return xpoll_ctl_one(ep_of(xf), &c);
}

/*
 * A user event needs no file: each mode as the uapi header states it,
 * the errors of its ops, and its watch.
 */
static void xpoll_uevent_modes(struct kunit *test)
{
	struct file *xf = inst_new(test), *keep = inst_new(test);
	long base = xpoll_user_watches(current_uid());
	struct ksink ks;

	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_ADD, 1, EPOLLIN, 11), 0);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_ADD, 1, EPOLLIN, 11), -EEXIST);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_ADD, 2, EPOLLIN | EPOLLET,
				   22), 0);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_ADD, 3, EPOLLIN |
				   EPOLLONESHOT, 33), 0);
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base + 3);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 9, EPOLLIN, 0),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 1, EPOLLET, 0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 1, EPOLLIN, 5),
			-EINVAL);
	ksink_init(&ks);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);

	/* Level: every wait until cleared. */
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 1, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 11ULL);
	KUNIT_EXPECT_EQ(test, ks.ev[0].events, EPOLLIN);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_CLEAR, 1, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	/* Not of interest: nothing; EPOLLHUP always is. */
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 1, EPOLLOUT, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 1, EPOLLHUP, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].events, EPOLLHUP);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_DEL, 1, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 1, EPOLLIN, 0),
			-ENOENT);

	/* Edge: once per trigger, pending or not. */
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 2, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 2, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 2, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 22ULL);

	/* One-shot: a trigger while disarmed is kept for the MOD. */
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 3, EPOLLIN, 0), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 0);
	KUNIT_EXPECT_EQ(test, uctl(xf, XPOLL_CTL_MOD, 3, EPOLLIN |
				   EPOLLONESHOT, 34), 0);
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 34ULL);

	/* Release gives every watch back. */
	put_file(xf);
	KUNIT_EXPECT_EQ(test, xpoll_user_watches(current_uid()), base);
	put_file(keep);
}

struct trigger_arg {
	struct file *xf;
	int n;
	unsigned int gap_ms;
	struct completion done;
};

static int trigger_fn(void *data)
{
	struct trigger_arg *ta = data;
	int i;

	for (i = 0; i < ta->n; i++) {
		msleep(ta->gap_ms);
		uctl(ta->xf, XPOLL_CTL_TRIGGER, 100 + i, EPOLLIN, 0);
	}
	complete(&ta->done);
	return 0;
}

/*
 * A minimum-count wait: it returns at min_events events stored, and a
 * level-triggered item counts once per call, then is ready again.
 */
static void xpoll_min_wait_batches(struct kunit *test)
{
	struct file *xf = inst_new(test);
	struct xpoll_instance *ep = ep_of(xf);
	struct trigger_arg ta = { .xf = xf, .n = 6, .gap_ms = 10 };
	struct task_struct *t;
	struct ksink ks;
	ktime_t t0;
	int i;

	for (i = 0; i < 6; i++)
		KUNIT_ASSERT_EQ(test, uctl(xf, XPOLL_CTL_ADD, 100 + i,
					   EPOLLIN | EPOLLET, i), 0);
	init_completion(&ta.done);
	t = kthread_run(trigger_fn, &ta, "xpoll-kunit-trig");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	ksink_init(&ks);
	/* Four of the six, one at a time, in one call. */
	KUNIT_EXPECT_EQ(test, xpoll_wait_min(ep, &ks.sink, 16,
					     5 * NSEC_PER_SEC, 4, 0), 4);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, ks.ev[i].data, (u64)i);
	wait_for_completion(&ta.done);
	KUNIT_EXPECT_EQ(test, xpoll_wait_min(ep, &ks.sink, 16, 0, 4, 0), 2);

	/* A level-triggered event: once in the call, for the whole wait. */
	KUNIT_ASSERT_EQ(test, uctl(xf, XPOLL_CTL_ADD, 7, EPOLLIN, 77), 0);
	KUNIT_ASSERT_EQ(test, uctl(xf, XPOLL_CTL_TRIGGER, 7, EPOLLIN, 0), 0);
	ksink_init(&ks);
	t0 = ktime_get();
	KUNIT_EXPECT_EQ(test, xpoll_wait_min(ep, &ks.sink, 16,
					     50 * NSEC_PER_MSEC, 4, 0), 1);
	KUNIT_EXPECT_GE(test, ktime_ms_delta(ktime_get(), t0), 50LL);
	KUNIT_EXPECT_EQ(test, ks.ev[0].data, 77ULL);
	/* ... and then ready again, for the next call. */
	KUNIT_EXPECT_EQ(test, wait0(xf, &ks, 16), 1);
	/* min_wait after the first event ends the batch. */
	t0 = ktime_get();
	KUNIT_EXPECT_EQ(test, xpoll_wait_min(ep, &ks.sink, 16,
					     5 * NSEC_PER_SEC, 4,
					     20 * NSEC_PER_MSEC), 1);
	KUNIT_EXPECT_LT(test, ktime_ms_delta(ktime_get(), t0), 2000LL);
	put_file(xf);
}

static struct kunit_case xpoll_uevent_cases[] = {
	KUNIT_CASE(xpoll_uevent_modes),
	KUNIT_CASE(xpoll_min_wait_batches),
	{}
};

static struct kunit_case xpoll_tree_cases[] = {
	KUNIT_CASE(xpoll_rbtree_order_lookup),
	KUNIT_CASE(xpoll_ctl_errors),
	{}
};

static struct kunit_case xpoll_callback_cases[] = {
	KUNIT_CASE(xpoll_callback_filter),
	KUNIT_CASE(xpoll_callback_two_queues),
	KUNIT_CASE(xpoll_callback_pollfree),
	{}
};

static struct kunit_case xpoll_transfer_cases[] = {
	KUNIT_CASE(xpoll_transfer_modes),
	KUNIT_CASE(xpoll_transfer_overflow),
	KUNIT_CASE(xpoll_transfer_chunks),
	KUNIT_CASE(xpoll_transfer_blocking_and_exclusive),
	KUNIT_CASE(xpoll_transfer_timer_slack),
	{}
};

static struct kunit_case xpoll_nest_cases[] = {
	KUNIT_CASE(xpoll_nest_loop_and_depth),
	KUNIT_CASE(xpoll_nest_wake_once),
	{}
};

static struct kunit_case xpoll_lifetime_cases[] = {
	KUNIT_CASE(xpoll_watch_accounting),
	KUNIT_CASE(xpoll_instance_lifecycle),
	KUNIT_CASE(xpoll_target_closed),
	KUNIT_CASE(xpoll_close_many),
	KUNIT_CASE(xpoll_close_while_locked),
	KUNIT_CASE(xpoll_close_shared_files),
	KUNIT_CASE(xpoll_pinned_file),
	{}
};

static struct kunit_suite xpoll_tree_suite = {
	.name = "xpoll_tree",
	.test_cases = xpoll_tree_cases,
};

static struct kunit_suite xpoll_callback_suite = {
	.name = "xpoll_callback",
	.test_cases = xpoll_callback_cases,
};

static struct kunit_suite xpoll_transfer_suite = {
	.name = "xpoll_transfer",
	.test_cases = xpoll_transfer_cases,
};

static struct kunit_suite xpoll_nest_suite = {
	.name = "xpoll_nest",
	.test_cases = xpoll_nest_cases,
};

static struct kunit_suite xpoll_lifetime_suite = {
	.name = "xpoll_lifetime",
	.test_cases = xpoll_lifetime_cases,
};

static struct kunit_suite xpoll_uevent_suite = {
	.name = "xpoll_uevent",
	.test_cases = xpoll_uevent_cases,
};

kunit_test_suites(&xpoll_tree_suite, &xpoll_callback_suite,
		  &xpoll_transfer_suite, &xpoll_nest_suite,
		  &xpoll_lifetime_suite, &xpoll_uevent_suite);

MODULE_DESCRIPTION("KUnit tests of the xpoll core");
MODULE_LICENSE("GPL");
