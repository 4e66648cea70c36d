// SPDX-License-Identifier: GPL-2.0
/*
 * The ready ring (XPOLL_FEAT_RING; the ABI and the protocol of both sides
 * are in uapi/linux/xpoll.h): XPOLL_IOC_RING_SETUP, the mmap of the
 * instance, and the producer's half, which the wake callback and a user
 * event's trigger run instead of queueing on the ready list.
 *
 * Objects, locks and lifetimes:
 * - ep->ring is set once, by the setup under ep->mtx while the instance
 *   has no item, and published with smp_store_release(): every item of a
 *   ring instance is added after it, so the callback and the trigger read
 *   it plainly under ep->lock; the paths that may run before it (a wait
 *   or poll begun earlier) read it with READ_ONCE().  It never changes
 *   and is freed at the instance's release (xpoll_ring_free()), when no
 *   item, callback, trigger or mapping is left (a mapping holds the
 *   instance's file), not at its last reference, which a full ADD's path
 *   check may drop under xpoll_topo_lock.  ->mmap never takes
 *   ep->mtx, which a wait holds while it may fault with mmap_lock.
 * - ring->tail, ring[] and the ready bits are written under ep->lock (the
 *   producer's hold), ready also by userspace (its exchange) at any time:
 *   the kernel changes them only with atomic operations.  A slot's events
 *   and data are written under ep->mtx (ADD, MOD), events also under
 *   ep->lock, since EPOLLONESHOT disarms the item in the producer.
 * - Slot numbers come from ring->slots_ida under ep->mtx: one per item
 *   from ADD to its removal; a closed item's ready bits are cleared when
 *   its file's close hands it over (xpoll_item_orphan()).
 * - An item of a ring instance is never on ovflist (no transfer, instance
 *   poll or minimum-count wait scans a ring instance), so it keeps its
 *   slot number where the ovflist link would be (struct xpoll_item).  It
 *   is on the ready list only between a wakeup that said no bits and the
 *   re-poll that posts what it is ready for (xpoll_ring_repoll(), under
 *   ep->mtx; a removal takes it off, as any item's).
 *
 * Nothing the kernel reads from the mapping is trusted: the tail and the
 * slot numbers are the kernel's own, the head only decides whether the
 * ring is full (a head more than entries behind the tail, or ahead of
 * it, makes it full), and the ready bits only whether to append.
 *
 * Memory: the mapping is __vmalloc()ed with GFP_KERNEL_ACCOUNT (charged
 * to the memory cgroup; vmalloc_user()'s is not, and the allocator that
 * takes both flags is not exported), mapped page by page as
 * remap_vmalloc_range() maps its own, and charged to RLIMIT_MEMLOCK in
 * the user's locked_vm, as io_uring's rings, unless CAP_IPC_LOCK.
 * Costs: the producer is O(1) with interrupts off (one atomic OR and two
 * stores); the setup and the release are O(entries) in memory, outside
 * every lock but ep->mtx.
 */
#include <linux/cred.h>
#include <linux/idr.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched/user.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <linux/xpoll.h>
#include "trace.h"
#include "xpoll.h"

static_assert(sizeof(struct xpoll_ring_setup) == 40);
static_assert(sizeof(struct xpoll_ring_hdr) == 128);
static_assert(offsetof(struct xpoll_ring_hdr, tail) == 64);
static_assert(sizeof(struct xpoll_ring_slot) == 16);

struct xpoll_ring {
	struct xpoll_ring_hdr *hdr;	/* the mapping, from offset 0 */
	struct xpoll_ring_slot *slots;
	u32 *ring;
	u32 entries;
	u32 tail;			/* the kernel's own, under ep->lock */
	unsigned long size;		/* of the mapping, page-aligned */
	struct user_struct *user;	/* charged size >> PAGE_SHIFT */
	struct ida slots_ida;
};

static inline struct xpoll_ring_slot *xpoll_ring_slot(struct xpoll_ring *r,
						      const struct xpoll_item *it)
{
	return &r->slots[it->slot];
}

/* The ready bits of a slot: atomic, userspace exchanges them too. */
static inline atomic_t *xpoll_ring_ready(struct xpoll_ring_slot *s)
{
	return (atomic_t *)&s->ready;
}

static int xpoll_ring_charge(struct user_struct *user, unsigned long pages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur = atomic_long_read(&user->locked_vm);
	bool unlimited = capable(CAP_IPC_LOCK);

	do {
		if (!unlimited && cur + pages > limit)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur,
					  cur + pages));
	return 0;
}

/*
 * Frees @ep's ring, if it has one, at the instance's release: no mapping
 * (each holds the file), item (each was removed), callback or trigger (a
 * trigger holds the file) is left.
 */
void xpoll_ring_free(struct xpoll_instance *ep)
{
	struct xpoll_ring *r = ep->ring;

	if (!r)
		return;
	atomic_long_sub(r->size >> PAGE_SHIFT, &r->user->locked_vm);
	free_uid(r->user);
	ida_destroy(&r->slots_ida);
	vfree(r->hdr);
	kfree(r);
	ep->ring = NULL;
}

static struct xpoll_ring *xpoll_ring_alloc(u32 entries,
					   struct xpoll_ring_setup *rs)
{
	struct xpoll_ring *r;
	size_t ring_off = sizeof(struct xpoll_ring_hdr) +
			  entries * sizeof(struct xpoll_ring_slot);

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	r->size = PAGE_ALIGN(ring_off + entries * sizeof(u32));
	/* A user's request, refused with ENOMEM: no warning (as io_uring). */
	r->hdr = __vmalloc(r->size,
			   GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN);
	if (!r->hdr)
		goto out_free;
	r->user = get_current_user();
	if (xpoll_ring_charge(r->user, r->size >> PAGE_SHIFT))
		goto out_vfree;
	r->slots = (void *)r->hdr + sizeof(struct xpoll_ring_hdr);
	r->ring = (void *)r->hdr + ring_off;
	r->entries = entries;
	r->hdr->entries = entries;
	ida_init(&r->slots_ida);
	rs->mmap_size = r->size;
	rs->slots_off = sizeof(struct xpoll_ring_hdr);
	rs->ring_off = ring_off;
	return r;

out_vfree:
	free_uid(r->user);
	vfree(r->hdr);
out_free:
	kfree(r);
	return NULL;
}

long xpoll_ioc_ring_setup(struct xpoll_instance *ep, void __user *uarg)
{
	struct xpoll_ring_setup rs;
	struct xpoll_ring *r;
	long err;

	if (copy_from_user(&rs, uarg, sizeof(rs)))
		return -EFAULT;
	if (rs.flags || rs.reserved[0] || rs.reserved[1] || !rs.entries ||
	    !is_power_of_2(rs.entries) || rs.entries > XPOLL_RING_MAX_ENTRIES)
		return -EINVAL;

	mutex_lock(&ep->mtx);
	xpoll_reap_closed(ep);
	err = -EBUSY;
	if (ep->ring || !RB_EMPTY_ROOT(&ep->rbr.rb_root) ||
	    !list_empty(&ep->uevent_list))
		goto out;
	err = -ENOMEM;
	r = xpoll_ring_alloc(rs.entries, &rs);
	if (!r)
		goto out;
	/* Before it is published: a failure leaves a plain instance. */
	err = 0;
	if (copy_to_user(uarg, &rs, sizeof(rs))) {
		ep->ring = r;
		xpoll_ring_free(ep);
		err = -EFAULT;
		goto out;
	}
	/* Pairs with READ_ONCE() and smp_load_acquire() of the readers. */
	smp_store_release(&ep->ring, r);
out:
	mutex_unlock(&ep->mtx);
	return err;
}

/*
 * ->mmap: the whole ring or a prefix, at offset 0, shared.  Never takes
 * ep->mtx (see the top).
 */
int xpoll_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct xpoll_instance *ep = file->private_data;
	/* Pairs with smp_store_release() in the setup. */
	struct xpoll_ring *r = smp_load_acquire(&ep->ring);
	unsigned long size = vma->vm_end - vma->vm_start, off;
	int err;

	/* An instance without a ring answers as epoll's, with no mmap. */
	if (!r)
		return -ENODEV;
	if (vma->vm_pgoff || size > r->size || !(vma->vm_flags & VM_MAYSHARE) ||
	    (vma->vm_flags & VM_EXEC))
		return -EINVAL;
	vma->vm_flags &= ~VM_MAYEXEC;
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	for (off = 0; off < size; off += PAGE_SIZE) {
		err = vm_insert_page(vma, vma->vm_start + off,
				     vmalloc_to_page((void *)r->hdr + off));
		if (err)
			return err;
	}
	return 0;
}

/*
 * The modes a ring instance allows (see the uapi header): EPOLLET always,
 * EPOLLWAKEUP never.  @events as the caller passed them; under ep->mtx,
 * which the setup holds.
 */
int xpoll_ring_check_events(struct xpoll_instance *ep, __poll_t events)
{
	lockdep_assert_held(&ep->mtx);
	if (!ep->ring)
		return 0;
	return (events & EPOLLET) && !(events & EPOLLWAKEUP) ? 0 : -EINVAL;
}

/* Gives @it, being added, a slot; under ep->mtx.  0 or -ENOSPC. */
int xpoll_ring_slot_get(struct xpoll_instance *ep, struct xpoll_item *it)
{
	struct xpoll_ring *r = ep->ring;
	struct xpoll_ring_slot *s;
	int id;

	lockdep_assert_held(&ep->mtx);
	id = ida_alloc_max(&r->slots_ida, r->entries - 1, GFP_KERNEL_ACCOUNT);
	if (id < 0)
		return id == -ENOMEM ? id : -ENOSPC;
	it->slot = id;
	s = xpoll_ring_slot(r, it);
	/* Left by a removed item's withdrawn index: start clean. */
	atomic_set(xpoll_ring_ready(s), 0);
	WRITE_ONCE(s->events, (__force u32)it->events);
	WRITE_ONCE(s->data, it->data);
	return 0;
}

/* The interest set and data of a MOD; under ep->mtx. */
void xpoll_ring_modify(struct xpoll_instance *ep, struct xpoll_item *it,
		       __poll_t events, u64 data)
{
	struct xpoll_ring_slot *s = xpoll_ring_slot(ep->ring, it);

	lockdep_assert_held(&ep->mtx);
	/*
	 * Under ep->lock: the producer disarms EPOLLONESHOT items.  Bits of
	 * the old interest set go: MOD's re-poll posts what is ready now.
	 */
	spin_lock_irq(&ep->lock);
	WRITE_ONCE(it->events, events);
	WRITE_ONCE(s->events, (__force u32)events);
	atomic_set(xpoll_ring_ready(s), 0);
	spin_unlock_irq(&ep->lock);
	WRITE_ONCE(s->data, data);
}

/*
 * Withdraws @it's pending event: its index, if still in the ring, is
 * skipped.  At the close of its file (under ep->lock) and at its removal.
 */
void xpoll_ring_withdraw(struct xpoll_instance *ep, struct xpoll_item *it)
{
	atomic_set(xpoll_ring_ready(xpoll_ring_slot(ep->ring, it)), 0);
}

/* Frees @it's slot at its removal; under ep->mtx, no producer runs on it. */
void xpoll_ring_slot_put(struct xpoll_instance *ep, struct xpoll_item *it)
{
	struct xpoll_ring_slot *s = xpoll_ring_slot(ep->ring, it);

	lockdep_assert_held(&ep->mtx);
	atomic_set(xpoll_ring_ready(s), 0);
	WRITE_ONCE(s->events, 0);
	WRITE_ONCE(s->data, 0);
	ida_free(&ep->ring->slots_ida, it->slot);
}

/*
 * The producer: @it has an event @bits (0: the waker did not say which),
 * under ep->lock.  Sets the slot's ready bits and appends its index if
 * they were 0; disarms an EPOLLONESHOT item.  An event without bits puts
 * the item on the ready list for a re-poll (xpoll_ring_repoll()) and
 * sets hdr.repoll.  Returns true if the slot was appended, or could not
 * be for a full ring (hdr.overflow is set), or awaits its re-poll: a
 * waiter has something to see.
 */
bool xpoll_ring_post(struct xpoll_instance *ep, struct xpoll_item *it,
		     __poll_t bits)
{
	struct xpoll_ring *r = ep->ring;
	struct xpoll_ring_slot *s = xpoll_ring_slot(r, it);
	__poll_t events = it->events;
	u32 tail = r->tail;

	lockdep_assert_held(&ep->lock);
	if (!bits) {
		if (list_empty(&it->rdllink)) {
			list_add_tail(&it->rdllink, &ep->rdllist);
			xpoll_count_ready(ep, 1);
		}
		/* Pairs with the consumer's load-acquire of repoll. */
		smp_store_release(&r->hdr->repoll, 1);
		return true;
	}
	bits &= events & ~XPOLL_PRIVATE_BITS;
	if (!bits)
		return false;
	if (events & EPOLLONESHOT)
		WRITE_ONCE(it->events, events & XPOLL_PRIVATE_BITS);
	/* Fully ordered: the bits are visible before the index. */
	if (atomic_fetch_or((__force int)bits, xpoll_ring_ready(s)))
		return false;
	if (tail - READ_ONCE(r->hdr->head) >= r->entries) {
		/* Its tail again, for a consumer that reset its header. */
		WRITE_ONCE(r->hdr->tail, tail);
		/* Pairs with the consumer's exchange of overflow. */
		smp_store_release(&r->hdr->overflow, 1);
		return true;
	}
	/* Counted as delivered when its index is appended (uapi). */
	xpoll_count_event(ep, it);
	trace_xpoll_deliver(ep->id, it->fd, (__force u32)bits, it->data);
	WRITE_ONCE(r->ring[tail & (r->entries - 1)], it->slot);
	WRITE_ONCE(r->tail, tail + 1);
	/* Pairs with the consumer's load-acquire of tail. */
	smp_store_release(&r->hdr->tail, tail + 1);
	return true;
}

/*
 * What a wait or a poll of a ring instance sees: the indices in the
 * ring, at most entries (a hostile head counts as a full ring), or 1 for
 * an empty ring with overflow set or items to re-poll.  Without a lock:
 * the sleeper checks it again under ep->lock.
 */
u32 xpoll_ring_count(struct xpoll_instance *ep)
{
	struct xpoll_ring *r = READ_ONCE(ep->ring);
	u32 n = READ_ONCE(r->tail) - READ_ONCE(r->hdr->head);

	if (n > r->entries)
		n = r->entries;
	if (!n && (READ_ONCE(r->hdr->overflow) ||
		   !list_empty_careful(&ep->rdllist)))
		n = 1;
	return n;
}

/*
 * The re-poll of the items whose wakeup said no bits (xpoll_ring_post()),
 * by a wait on the ring instance: what each is ready for is posted to the
 * ring.  Each item leaves the ready list under ep->lock before it is
 * polled, so a wakeup that comes meanwhile queues it for the next pass;
 * one pass takes the items queued when it began.  Under ep->mtx, which
 * keeps them from being removed.
 */
void xpoll_ring_repoll(struct xpoll_instance *ep)
{
	struct xpoll_ring *r = ep->ring;
	struct xpoll_item *it;
	__poll_t revents;
	LIST_HEAD(todo);
	poll_table pt;

	if (list_empty_careful(&ep->rdllist))
		return;
	init_poll_funcptr(&pt, NULL);
	mutex_lock(&ep->mtx);
	spin_lock_irq(&ep->lock);
	WRITE_ONCE(r->hdr->repoll, 0);
	list_splice_init(&ep->rdllist, &todo);
	spin_unlock_irq(&ep->lock);
	for (;;) {
		spin_lock_irq(&ep->lock);
		it = list_first_entry_or_null(&todo, struct xpoll_item,
					      rdllink);
		if (it) {
			list_del_init(&it->rdllink);
			xpoll_count_ready(ep, -1);
		}
		spin_unlock_irq(&ep->lock);
		if (!it)
			break;
		revents = xpoll_item_poll(it, &pt, 1, true);
		if (revents) {
			spin_lock_irq(&ep->lock);
			xpoll_ring_post(ep, it, revents);
			spin_unlock_irq(&ep->lock);
		}
	}
	mutex_unlock(&ep->mtx);
}

/* The fdinfo line of a ring instance; under ep->mtx. */
void xpoll_ring_show(struct seq_file *m, struct xpoll_instance *ep)
{
	struct xpoll_ring *r = ep->ring;

	if (r)
		seq_printf(m, "ring: entries: %u tail: %u head: %u overflow: %u\n",
			   r->entries, READ_ONCE(r->tail),
			   READ_ONCE(r->hdr->head),
			   READ_ONCE(r->hdr->overflow));
}
