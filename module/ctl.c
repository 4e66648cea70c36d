// SPDX-License-Identifier: GPL-2.0
/*
 * XPOLL_IOC_CTL: ADD, MOD and DEL of one target, as epoll_ctl(2).
 *
 * The checks run in epoll's order so that a call with several faults
 * fails with epoll's errno: EBADF (bad fd), EPERM (target cannot be
 * polled), EINVAL (self add, EPOLLEXCLUSIVE misuse), ELOOP (nesting),
 * then, per op, EEXIST / ENOENT / EINVAL (bad op, MOD of an exclusive
 * item), and for ADD ENOSPC (watch limit) and ENOMEM.
 *
 * Nesting edges (an item of instance P watching instance C: the item is
 * the first member of a struct xpoll_nest) are kept in P->children and
 * C->parents under xpoll_topo_lock.  An ADD of an instance holds that lock
 * from the loop check until its edge is linked, so two concurrent ADDs
 * cannot build a cycle between them; a removal unlinks its edge in O(1).
 * The depth rule is epoll's: levels below the new child + 1 + levels above
 * the parent must not exceed XPOLL_MAX_NESTS.  An epoll file counts as a
 * leaf.  xpoll_topo_lock is global: an ADD of an instance holds it for the
 * loop check, O(instances and edges below the child and above the
 * parent, each visited once); everything else holds it for O(1).
 *
 * EPOLLWAKEUP is dropped without CAP_BLOCK_SUSPEND (and always on kernels
 * without CONFIG_PM_SLEEP), exactly as epoll does, so fdinfo and the
 * EPOLLEXCLUSIVE check see the same bits.  When it is kept it has no
 * effect: xpoll registers no wakeup source, so it does not hold off
 * system suspend while events are pending.
 *
 * Not reproduced: epoll's limit on the number of wakeup paths
 * (reverse_path_check(), EINVAL when a file is watched through too many
 * nested paths); nesting here is bounded by depth and loops only.
 *
 * Per-user accounting: every instance holds a reference on the
 * xpoll_user of the uid that opened it (as epoll charges the creator), and
 * each of its items counts against xpoll_max_user_watches there.
 */
#include <linux/hashtable.h>
#include <linux/file.h>
#include <linux/slab.h>

#include <linux/xpoll.h>
#include "xpoll.h"

static struct kmem_cache *xpoll_item_cache;

/* An item that watches another instance, with its nesting edge. */
struct xpoll_nest {
	struct xpoll_item item;
	struct list_head child_link;	/* on P->children */
	struct list_head parent_link;	/* on C->parents */
};

#ifdef CONFIG_64BIT
/*
 * Memory per watch: the item, its first wait entry included, must stay
 * below what epoll spends on one watch (see struct xpoll_item).
 */
static_assert(sizeof(struct xpoll_item) <= 160);
static_assert(!(sizeof(struct xpoll_item) % 32));
/* The layout the comment on struct xpoll_item relies on. */
static_assert(offsetofend(struct xpoll_item, file) <= 32 &&
	      offsetofend(struct xpoll_item, rdllink) <= 64);
#endif

static DEFINE_MUTEX(xpoll_topo_lock);
static u64 xpoll_loop_gen;
static struct xpoll_instance *xpoll_inserting_into;

static DEFINE_SPINLOCK(xpoll_users_lock);
static DEFINE_HASHTABLE(xpoll_users, 6);

static struct xpoll_user *xpoll_user_find(kuid_t uid)
{
	struct xpoll_user *u;

	hash_for_each_possible(xpoll_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

struct xpoll_user *xpoll_user_get(kuid_t uid)
{
	struct xpoll_user *u, *nu;

	spin_lock(&xpoll_users_lock);
	u = xpoll_user_find(uid);
	if (u)
		refcount_inc(&u->ref);
	spin_unlock(&xpoll_users_lock);
	if (u)
		return u;

	nu = kzalloc(sizeof(*nu), GFP_KERNEL);
	if (!nu)
		return NULL;
	nu->uid = uid;
	refcount_set(&nu->ref, 1);
	atomic_long_set(&nu->watches, 0);

	spin_lock(&xpoll_users_lock);
	u = xpoll_user_find(uid);
	if (u) {
		refcount_inc(&u->ref);
	} else {
		hash_add(xpoll_users, &nu->node, __kuid_val(uid));
		u = nu;
		nu = NULL;
	}
	spin_unlock(&xpoll_users_lock);
	kfree(nu);
	return u;
}

void xpoll_user_put(struct xpoll_user *u)
{
	bool last;

	spin_lock(&xpoll_users_lock);
	last = refcount_dec_and_test(&u->ref);
	if (last)
		hash_del(&u->node);
	spin_unlock(&xpoll_users_lock);
	if (last) {
		WARN_ON_ONCE(atomic_long_read(&u->watches));
		kfree(u);
	}
}

/* Watches charged to @uid now, or -1 if it has no instance. */
long xpoll_user_watches(kuid_t uid)
{
	struct xpoll_user *u;
	long n = -1;

	spin_lock(&xpoll_users_lock);
	u = xpoll_user_find(uid);
	if (u)
		n = atomic_long_read(&u->watches);
	spin_unlock(&xpoll_users_lock);
	return n;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_user_watches);

/* Where a new (file, fd) goes in the interest tree (xpoll_seek()). */
struct xpoll_slot {
	struct rb_node *parent, **link;
	bool leftmost;
};

/*
 * Finds (@file, @fd) in @ep's tree; when it is absent, fills @slot with the
 * place it would take, so that an ADD descends the tree once.  The slot
 * stays valid while ep->mtx is held.
 */
static struct xpoll_item *xpoll_seek(struct xpoll_instance *ep,
				     struct file *file, int fd,
				     struct xpoll_slot *slot)
{
	struct rb_node **p = &ep->rbr.rb_root.rb_node, *parent = NULL;
	bool leftmost = true;
	struct xpoll_item *it;
	int kcmp;

	lockdep_assert_held(&ep->mtx);
	while (*p) {
		parent = *p;
		it = rb_entry(parent, struct xpoll_item, rbn);
		kcmp = xpoll_cmp(file, fd, it->file, it->fd);
		if (kcmp > 0) {
			p = &parent->rb_right;
			leftmost = false;
		} else if (kcmp < 0) {
			p = &parent->rb_left;
		} else {
			return it;
		}
	}
	slot->parent = parent;
	slot->link = p;
	slot->leftmost = leftmost;
	return NULL;
}

struct xpoll_item *xpoll_find(struct xpoll_instance *ep, struct file *file,
			      int fd)
{
	struct xpoll_slot slot;

	return xpoll_seek(ep, file, fd, &slot);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_find);

/* Levels of instances below @ep; > XPOLL_MAX_NESTS on a loop. */
static int xpoll_depth_down(struct xpoll_instance *ep, int depth)
{
	struct xpoll_instance *child;
	struct xpoll_nest *n;
	int result = 0;

	if (ep->gen == xpoll_loop_gen)
		return ep->loop_depth;
	list_for_each_entry(n, &ep->children, child_link) {
		child = n->item.file->private_data;
		if (child == xpoll_inserting_into || depth > XPOLL_MAX_NESTS)
			result = XPOLL_MAX_NESTS + 1;
		else
			result = max(result,
				     xpoll_depth_down(child, depth + 1) + 1);
		if (result > XPOLL_MAX_NESTS)
			break;
	}
	ep->gen = xpoll_loop_gen;
	ep->loop_depth = result;
	return result;
}

/* Levels of instances above @ep (the graph is acyclic and bounded). */
static int xpoll_depth_up(struct xpoll_instance *ep)
{
	struct xpoll_nest *n;
	int result = 0;

	if (ep->gen == xpoll_loop_gen)
		return ep->loop_depth;
	list_for_each_entry(n, &ep->parents, parent_link)
		result = max(result, xpoll_depth_up(n->item.ep) + 1);
	ep->gen = xpoll_loop_gen;
	ep->loop_depth = result;
	return result;
}

/* True if adding @to into @ep closes a loop or nests too deep. */
static bool xpoll_loop_check(struct xpoll_instance *ep,
			     struct xpoll_instance *to)
{
	int down, up;

	lockdep_assert_held(&xpoll_topo_lock);
	xpoll_inserting_into = ep;
	xpoll_loop_gen++;
	down = xpoll_depth_down(to, 0);
	xpoll_inserting_into = NULL;
	if (down > XPOLL_MAX_NESTS)
		return true;
	xpoll_loop_gen++;
	up = xpoll_depth_up(ep);
	return down + 1 + up > XPOLL_MAX_NESTS;
}

/* Drops the nesting edge of @it, an item that watches an instance. */
static void xpoll_nest_unlink(struct xpoll_item *it)
{
	struct xpoll_nest *n = container_of(it, struct xpoll_nest, item);

	mutex_lock(&xpoll_topo_lock);
	list_del(&n->child_link);
	list_del(&n->parent_link);
	mutex_unlock(&xpoll_topo_lock);
}

static void xpoll_item_free(struct xpoll_item *it, bool nested)
{
	if (nested)
		kfree(container_of(it, struct xpoll_nest, item));
	else
		kmem_cache_free(xpoll_item_cache, it);
}

/*
 * Removes @it from @ep: unhooks its wait entries (after which no callback
 * can run on it), takes it off the tree, the ready list, the nesting edge
 * and its file's tree (target.c), and frees it.  Never called during a
 * scan of the ready list (the ovflist may point at items then).
 */
void xpoll_item_remove(struct xpoll_instance *ep, struct xpoll_item *it)
{
	bool nested = it->file->f_op == &xpoll_fops;
	struct file *file;

	lockdep_assert_held(&ep->mtx);
	xpoll_unregister_item(it);
	rb_erase_cached(&it->rbn, &ep->rbr);

	spin_lock_irq(&ep->lock);
	if (!list_empty(&it->rdllink))
		list_del_init(&it->rdllink);
	spin_unlock_irq(&ep->lock);

	if (nested)
		xpoll_nest_unlink(it);

	file = xpoll_target_detach(it);
	atomic_long_dec(&ep->user->watches);
	xpoll_item_free(it, nested);
	if (file)
		fput(file);
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_item_remove);

static void xpoll_make_ready(struct xpoll_instance *ep, struct xpoll_item *it)
{
	bool pwake = false;

	spin_lock_irq(&ep->lock);
	if (list_empty(&it->rdllink)) {
		list_add_tail(&it->rdllink, &ep->rdllist);
		/* ep->wq only changes under ep->lock, held here. */
		if (waitqueue_active(&ep->wq))
			wake_up(&ep->wq);
		/* A poller queueing itself now re-polls us afterwards. */
		if (waitqueue_active(&ep->poll_wait))
			pwake = true;
	}
	spin_unlock_irq(&ep->lock);
	if (pwake)
		xpoll_poll_wake(ep, NULL, 0);
}

static int xpoll_insert(struct xpoll_instance *ep, struct xpoll_slot *slot,
			struct file *tfile, int fd, __poll_t events, u64 data,
			enum xpoll_kind kind, bool *topo_held)
{
	struct xpoll_nest *nest = NULL;
	struct xpoll_item *it;
	__poll_t revents;
	bool ok;
	int err;

	if (atomic_long_inc_return(&ep->user->watches) >
	    READ_ONCE(xpoll_max_user_watches)) {
		atomic_long_dec(&ep->user->watches);
		return -ENOSPC;
	}
	if (kind == XPOLL_KIND_XPOLL) {
		nest = kzalloc(sizeof(*nest), GFP_KERNEL_ACCOUNT);
		it = nest ? &nest->item : NULL;
	} else {
		it = kmem_cache_zalloc(xpoll_item_cache, GFP_KERNEL);
	}
	if (!it) {
		atomic_long_dec(&ep->user->watches);
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&it->rdllink);
	it->next = XPOLL_UNACTIVE;
	it->ep = ep;
	it->file = tfile;
	it->fd = fd;
	it->events = events;
	it->data = data;

	err = xpoll_target_attach(it);
	if (err) {
		xpoll_item_free(it, kind == XPOLL_KIND_XPOLL);
		atomic_long_dec(&ep->user->watches);
		return err;
	}
	rb_link_node(&it->rbn, slot->parent, slot->link);
	rb_insert_color_cached(&it->rbn, &ep->rbr, slot->leftmost);
	if (nest) {
		struct xpoll_instance *child = tfile->private_data;

		list_add_tail(&nest->child_link, &ep->children);
		list_add_tail(&nest->parent_link, &child->parents);
	}
	if (*topo_held) {
		mutex_unlock(&xpoll_topo_lock);
		*topo_held = false;
	}

	/* From here on the callback can run on the item. */
	revents = xpoll_register_poll(it, &ok);
	if (unlikely(!ok)) {
		xpoll_item_remove(ep, it);
		return -ENOMEM;
	}
	if (revents)
		xpoll_make_ready(ep, it);
	return 0;
}

static void xpoll_modify(struct xpoll_instance *ep, struct xpoll_item *it,
			 __poll_t events, u64 data)
{
	poll_table pt;

	WRITE_ONCE(it->events, events);
	it->data = data;
	/*
	 * Publish the new mask before polling: either the callback sees it
	 * or the poll below sees the event (pairs with wq_has_sleeper()).
	 */
	smp_mb();
	init_poll_funcptr(&pt, NULL);
	if (xpoll_item_poll(it, &pt, 1, true))
		xpoll_make_ready(ep, it);
}

int xpoll_ctl_file(struct xpoll_instance *ep, int op, struct file *tfile,
		   int fd, __poll_t events, u64 data)
{
	struct epoll_event ev = { .events = events, .data = data };
	bool topo_held = false;
	struct xpoll_slot slot;
	struct xpoll_item *it;
	enum xpoll_kind kind;
	int err;

	if (!file_can_poll(tfile))
		return -EPERM;
	if (op != XPOLL_CTL_DEL)
		ep_take_care_of_epollwakeup(&ev);
	if (tfile == ep->file)
		return -EINVAL;

	/* Only an ADD needs it; MOD and DEL use the item's. */
	kind = op == XPOLL_CTL_ADD ? xpoll_kind_of(tfile) : XPOLL_KIND_FILE;
	if (op != XPOLL_CTL_DEL && (ev.events & EPOLLEXCLUSIVE)) {
		if (op == XPOLL_CTL_MOD)
			return -EINVAL;
		if (op == XPOLL_CTL_ADD &&
		    (kind != XPOLL_KIND_FILE ||
		     (ev.events & ~XPOLL_EXCLUSIVE_OK_BITS)))
			return -EINVAL;
	}

	mutex_lock(&ep->mtx);
	if (op == XPOLL_CTL_ADD && kind == XPOLL_KIND_XPOLL) {
		mutex_lock(&xpoll_topo_lock);
		topo_held = true;
		if (xpoll_loop_check(ep, tfile->private_data)) {
			err = -ELOOP;
			goto out;
		}
	}

	it = xpoll_seek(ep, tfile, fd, &slot);
	err = -EINVAL;
	switch (op) {
	case XPOLL_CTL_ADD:
		if (it) {
			err = -EEXIST;
			break;
		}
		err = xpoll_insert(ep, &slot, tfile, fd,
				   ev.events | EPOLLERR | EPOLLHUP, ev.data,
				   kind, &topo_held);
		break;
	case XPOLL_CTL_DEL:
		if (!it) {
			err = -ENOENT;
			break;
		}
		xpoll_item_remove(ep, it);
		err = 0;
		break;
	case XPOLL_CTL_MOD:
		if (!it) {
			err = -ENOENT;
			break;
		}
		if (!(it->events & EPOLLEXCLUSIVE)) {
			xpoll_modify(ep, it, ev.events | EPOLLERR | EPOLLHUP,
				     ev.data);
			err = 0;
		}
		break;
	}
out:
	if (topo_held)
		mutex_unlock(&xpoll_topo_lock);
	mutex_unlock(&ep->mtx);
	return err;
}
EXPORT_SYMBOL_FOR_XPOLL_KUNIT(xpoll_ctl_file);

int xpoll_ctl_fd(struct xpoll_instance *ep, int op, int fd, __poll_t events,
		 u64 data)
{
	struct fd tf = fdget(fd);
	int err;

	if (!tf.file)
		return -EBADF;
	err = xpoll_ctl_file(ep, op, tf.file, fd, events, data);
	fdput(tf);
	return err;
}

int xpoll_ctl_init(void)
{
	/* 32-byte alignment: see the layout of struct xpoll_item. */
	xpoll_item_cache = kmem_cache_create("xpoll_item",
					     sizeof(struct xpoll_item), 32,
					     SLAB_ACCOUNT, NULL);
	return xpoll_item_cache ? 0 : -ENOMEM;
}

void xpoll_ctl_exit(void)
{
	kmem_cache_destroy(xpoll_item_cache);
}
