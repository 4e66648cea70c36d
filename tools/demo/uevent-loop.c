// SPDX-License-Identifier: GPL-2.0
/*
 * xpoll-uevent-loop: an event loop thread that other threads hand work to,
 * with xpoll's user events and ctl+wait.  A teaching example: read it top
 * to bottom.
 *
 * The problem.  A server's event loop thread owns its descriptors and
 * sleeps in its poller.  Other threads (workers, timers, a control thread)
 * need to hand it work and wake it.  With epoll the usual answer is an
 * eventfd watched by the loop: the other thread queues the work and
 * write()s the eventfd; when the loop answers, it write()s the other
 * thread's eventfd; and each side then calls epoll_wait(): two system
 * calls per handoff on each side, and an eventfd per thread.
 *
 * With xpoll:
 *  1. A user event (XPOLL_CTL_USER) is an item with no file behind it,
 *     named by a 64-bit key of our choosing.  xpoll_user_trigger() is the
 *     eventfd write; with EPOLLET every trigger is reported once and no
 *     clear (the eventfd read) is ever needed.  A level-triggered one stays
 *     reported until xpoll_user_clear(): a sticky flag (we use one for
 *     "stop").
 *  2. xpoll_ctl_wait() applies a change list and then waits, in one system
 *     call.  A change can be XPOLL_CTL_TRIGGER of a user event of ANOTHER
 *     instance, named by that instance's descriptor: "wake that thread,
 *     then sleep until I am woken" is one system call.  The loop uses it to
 *     answer: everything a turn produced (ADDs, DELs, the triggers that
 *     tell clients their answers are ready) goes into the change list of
 *     the next wait.  The clients use it to submit: trigger the loop and
 *     wait for the answer, in one call.
 *
 * What runs: the loop thread (one instance) serves NCLIENTS client threads
 * (one instance each).  Each client first hands the loop a "connection"
 * (one end of a socketpair), which the loop ADDs through its change list,
 * then submits jobs one at a time through a queue, each time waking the
 * loop and waiting for its own user event, and checks every answer.  At
 * the end it writes "bye <jobs>" on its connection and closes it; the loop
 * checks the count, DELs and closes its end.  main() then stops the loop
 * with a level-triggered user event.  The last line says PASS or FAIL
 * (exit status 0 or 1).
 *
 *   tools/demo/xpoll-uevent-loop [-c clients] [-n jobs per client]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xpoll/xpoll.h>

/*
 * User event keys.  Keys are a name space of their own (key 1 and fd 1
 * are different items).  The data of every event is chosen so the loop
 * can tell its user events from its connections (whose data is a
 * pointer, never this small).
 */
#define KEY_WORK	1	/* the loop's: jobs are queued (EPOLLET) */
#define KEY_STOP	2	/* the loop's: stop (level-triggered: sticky) */
#define KEY_DONE	3	/* each client's: your answer is ready (EPOLLET) */

#define MAXCLIENTS	16
#define MAXCHANGES	(2 * MAXCLIENTS + 8)

static int opt_clients = 4, opt_jobs = 2000;

static void die(const char *what)
{
	fprintf(stderr, "xpoll-uevent-loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- the work queue: a mutex and a ring, nothing xpoll-specific ---------- */

struct job {
	int client;
	uint64_t arg;
};

static struct {
	pthread_mutex_t lock;
	struct job ring[MAXCLIENTS];	/* at most one job per client in flight */
	unsigned int head, tail;
} queue = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Returns 1 if the queue was empty: only then does the loop need a wakeup. */
static int queue_push(struct job j)
{
	int was_empty;

	pthread_mutex_lock(&queue.lock);
	was_empty = queue.head == queue.tail;
	queue.ring[queue.tail++ % MAXCLIENTS] = j;
	pthread_mutex_unlock(&queue.lock);
	return was_empty;
}

/* Takes every queued job (at most @max) into @out. */
static int queue_drain(struct job *out, int max)
{
	int n = 0;

	pthread_mutex_lock(&queue.lock);
	while (queue.head != queue.tail && n < max)
		out[n++] = queue.ring[queue.head++ % MAXCLIENTS];
	pthread_mutex_unlock(&queue.lock);
	return n;
}

/*
 * Why "trigger only if the queue was empty" loses no wakeup: a push into a
 * non-empty queue comes after a push that triggered, and the loop has not
 * drained since (draining empties the queue, and the next push triggers
 * again).  A trigger that comes while the loop is busy is not lost either:
 * an EPOLLET user event is queued on the instance at the trigger and
 * reported by the next wait, whether or not anyone was waiting.
 */

/* ---- shared state ---------------------------------------------------------- */

static int loop_xp;			/* the loop's instance */
static int client_xp[MAXCLIENTS];	/* each client's instance */
static int conn_fd[MAXCLIENTS];		/* the loop's end of each connection */
static _Atomic uint64_t answer[MAXCLIENTS];
static atomic_long wrong_answers;

static uint64_t work(uint64_t arg)	/* the "work": any function will do */
{
	return arg * arg + 7;
}

/* A job's argument: the client's number in the top bits, so that an
 * answer meant for another client would be caught. */
static uint64_t job_arg(int client, int i)
{
	return (uint64_t)client << 32 | (uint32_t)(i + 1);
}

/* ---- the event loop ---------------------------------------------------------- */

struct conn {
	int client, fd;
	char buf[64];
	size_t len;
};

struct loop_stats {
	long turns, wakeups_work, jobs, triggers, adds, dels, byes_ok, change_errors;
};

/*
 * A change list that a turn fills and the next xpoll_ctl_wait() applies.
 * The loop never calls xpoll_ctl() or xpoll_user_trigger() itself: every
 * change, its own or aimed at another instance, waits for the next wait,
 * and a turn costs one system call however many changes it made.
 */
struct changes {
	struct xpoll_ctl c[MAXCHANGES];
	int32_t res[MAXCHANGES];
	unsigned int nr;
};

static struct xpoll_ctl *change(struct changes *ch)
{
	struct xpoll_ctl *c;

	if (ch->nr == MAXCHANGES) {
		fprintf(stderr, "xpoll-uevent-loop: change list full\n");
		exit(1);
	}
	c = &ch->c[ch->nr++];
	memset(c, 0, sizeof(*c));	/* reserved fields must be 0 */
	return c;
}

/* ADD a descriptor: an ordinary epoll change, EPOLLIN edge-triggered. */
static void change_add(struct changes *ch, int fd, void *ptr)
{
	struct xpoll_ctl *c = change(ch);

	c->op = XPOLL_CTL_ADD;
	c->fd = fd;
	c->events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	c->data = (uint64_t)(uintptr_t)ptr;
}

static void change_del(struct changes *ch, int fd)
{
	struct xpoll_ctl *c = change(ch);

	c->op = XPOLL_CTL_DEL;
	c->fd = fd;
}

/*
 * Trigger user event @key of the instance @xpfd (another thread's): the
 * wakeup of that thread, applied by our next wait.  fd names the other
 * instance; -1 would name our own.
 */
static void change_trigger(struct changes *ch, int xpfd, uint64_t key)
{
	struct xpoll_ctl *c = change(ch);

	c->op = XPOLL_CTL_TRIGGER;
	c->flags = XPOLL_CTL_USER;
	c->fd = xpfd;
	c->key = key;
	c->events = EPOLLIN;
}

/*
 * A connection is readable: read what came; at EOF check the bye, queue
 * the DEL and return 1 (the caller closes the fd once the DEL is applied).
 */
static int conn_input(struct conn *cn, struct changes *ch, struct loop_stats *st)
{
	for (;;) {		/* edge-triggered: read until EAGAIN or EOF */
		ssize_t n = read(cn->fd, cn->buf + cn->len, sizeof(cn->buf) - 1 - cn->len);

		if (n > 0) {
			cn->len += n;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			die("loop read");
		break;		/* EOF: the client closed its end */
	}
	cn->buf[cn->len] = 0;
	if (strtol(cn->buf + 4, NULL, 10) == opt_jobs && !strncmp(cn->buf, "bye ", 4))
		st->byes_ok++;
	else
		fprintf(stderr, "xpoll-uevent-loop: client %d said '%s'\n", cn->client, cn->buf);
	/*
	 * The DEL goes into the change list like every change, but the
	 * descriptor must stay open until it is applied: close it after the
	 * next wait.  Closing without DEL would also remove the item (at the
	 * last close, as with epoll); the explicit DEL shows a DEL in a
	 * change list.
	 */
	change_del(ch, cn->fd);
	st->dels++;
	return 1;
}

static void *loop_thread(void *arg)
{
	struct loop_stats *st = arg;
	struct changes ch = { .nr = 0 };
	struct epoll_event ev[32];
	struct conn conns[MAXCLIENTS];
	int to_close[MAXCLIENTS], nclose = 0, stop = 0;

	/*
	 * The connections are ADDed by the first turn's change list, with a
	 * pointer to their state as data (as a server would for an accepted
	 * connection).
	 */
	for (int i = 0; i < opt_clients; i++) {
		conns[i] = (struct conn){ .client = i, .fd = conn_fd[i] };
		change_add(&ch, conn_fd[i], &conns[i]);
		st->adds++;
	}
	/*
	 * Until told to stop and every connection is gone (a graceful
	 * shutdown: the clients say bye on their own).
	 */
	while (!stop || st->dels < opt_clients) {
		unsigned int done = 0;
		/*
		 * One turn, one system call: apply the changes of the last turn
		 * (ADD, DEL, and a TRIGGER for every client whose answer is
		 * ready), then sleep until something happens.
		 */
		int n = xpoll_ctl_wait(loop_xp, ch.c, ch.res, ch.nr, &done, ev, 32,
				       XPOLL_TIMEOUT_INFINITE, NULL);

		if (n < 0 && errno != EINTR)
			die("xpoll_ctl_wait");
		st->turns++;
		/*
		 * Each change has its own result, as if made by its own call; a
		 * failed one makes the wait return at once (a poll), so it is
		 * seen here without waiting for an event.
		 */
		for (unsigned int i = 0; i < done; i++)
			if (ch.res[i]) {
				fprintf(stderr, "xpoll-uevent-loop: change %u (op %u fd %d): %s\n",
					i, ch.c[i].op, ch.c[i].fd, strerror(-ch.res[i]));
				st->change_errors++;
			}
		if (done != ch.nr)
			st->change_errors++;
		ch.nr = 0;
		/* DELs applied: now the descriptors can go */
		while (nclose)
			close(to_close[--nclose]);

		for (int i = 0; i < n; i++) {
			uint64_t d = ev[i].data.u64;

			if (d == KEY_STOP) {
				/*
				 * Level-triggered: reported by every wait until
				 * cleared (an eventfd read), which we must do, or
				 * the waits until the last bye would spin.
				 */
				if (xpoll_user_clear(loop_xp, KEY_STOP, EPOLLIN))
					die("xpoll_user_clear");
				stop = 1;
			} else if (d == KEY_WORK) {
				/*
				 * EPOLLET: one report per trigger, no clear needed.
				 * Several triggers may have come: drain the whole
				 * queue (the queue, not the event, holds the work).
				 */
				struct job jobs[MAXCLIENTS];
				int nj = queue_drain(jobs, MAXCLIENTS);

				st->wakeups_work++;
				for (int j = 0; j < nj; j++) {
					int c = jobs[j].client;

					atomic_store(&answer[c], work(jobs[j].arg));
					/* the client's wakeup: sent by the next wait */
					change_trigger(&ch, client_xp[c], KEY_DONE);
					st->jobs++;
					st->triggers++;
				}
			} else {
				struct conn *cn = (struct conn *)(uintptr_t)d;

				if (conn_input(cn, &ch, st))
					to_close[nclose++] = cn->fd;
			}
		}
	}
	/* Changes of the last turn (its DELs), with a wait that does not sleep. */
	if (ch.nr) {
		unsigned int done = 0;

		if (xpoll_ctl_wait(loop_xp, ch.c, ch.res, ch.nr, &done, ev, 32, 0, NULL) < 0)
			die("xpoll_ctl_wait");
		for (unsigned int i = 0; i < done; i++)
			st->change_errors += ch.res[i] != 0;
		st->change_errors += done != ch.nr;
	}
	while (nclose)
		close(to_close[--nclose]);
	return NULL;
}

/* ---- a client ------------------------------------------------------------------- */

struct client {
	int id, fd;		/* its end of the connection */
	long answered;
};

static void *client_thread(void *arg)
{
	struct client *cl = arg;
	int xp = client_xp[cl->id];
	struct xpoll_ctl trig;
	int32_t res;
	char bye[32];

	for (int i = 0; i < opt_jobs; i++) {
		struct epoll_event ev;
		uint64_t a = job_arg(cl->id, i);
		/*
		 * Queue the job, and wake the loop only if the queue was
		 * empty.  Trigger and wait in one call: the change list of a
		 * wait on OUR instance triggers the LOOP's user event (fd =
		 * the loop's instance), then we sleep until the loop triggers
		 * ours.
		 */
		unsigned int nr = queue_push((struct job){ .client = cl->id, .arg = a });
		int n;

		memset(&trig, 0, sizeof(trig));
		trig.op = XPOLL_CTL_TRIGGER;
		trig.flags = XPOLL_CTL_USER;
		trig.fd = loop_xp;
		trig.key = KEY_WORK;
		trig.events = EPOLLIN;
		res = 0;
		do {	/* after EINTR the trigger is made: wait again without it */
			n = xpoll_ctl_wait(xp, &trig, &res, nr, NULL, &ev, 1,
					   10LL * 1000000000, NULL);
			nr = 0;
		} while (n < 0 && errno == EINTR);
		if (n != 1 || ev.data.u64 != KEY_DONE || res) {
			fprintf(stderr, "xpoll-uevent-loop: client %d job %d: %d events, %s\n",
				cl->id, i, n, n < 0 ? strerror(errno) : "no answer in 10 s");
			exit(1);
		}
		if (atomic_load(&answer[cl->id]) != work(a))
			atomic_fetch_add(&wrong_answers, 1);
		cl->answered++;
	}
	/* Done: say so on the connection, and close it (the loop sees EOF). */
	snprintf(bye, sizeof(bye), "bye %d", opt_jobs);
	if (write(cl->fd, bye, strlen(bye)) != (ssize_t)strlen(bye))
		die("client write");
	close(cl->fd);
	return NULL;
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct client cl[MAXCLIENTS];
	pthread_t lt, ct[MAXCLIENTS];
	struct loop_stats st = { 0 };
	struct timespec t0, t1;
	uint64_t feat;
	long answered = 0;
	double secs;
	int c, pass;

	while ((c = getopt(argc, argv, "c:n:")) != -1) {
		switch (c) {
		case 'c': opt_clients = atoi(optarg); break;
		case 'n': opt_jobs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: xpoll-uevent-loop [-c clients (1-%d)] [-n jobs per client]\n",
				MAXCLIENTS);
			return 2;
		}
	}
	if (opt_clients < 1 || opt_clients > MAXCLIENTS || opt_jobs < 1) {
		fprintf(stderr, "xpoll-uevent-loop: -c 1..%d, -n 1..\n", MAXCLIENTS);
		return 2;
	}
	loop_xp = xpoll_create1(XPOLL_CLOEXEC);
	if (loop_xp < 0 || xpoll_version(loop_xp, NULL, &feat) < 0)
		die("xpoll_create1 (is the xpoll module loaded?)");
	if (!(feat & XPOLL_FEAT_USER_EVENTS) || !(feat & XPOLL_FEAT_CTL_WAIT)) {
		fprintf(stderr, "xpoll-uevent-loop: this module has no user events or no ctl+wait\n");
		return 1;
	}
	/*
	 * The loop's two user events.  Added before any thread runs, so a
	 * trigger never finds them missing (ENOENT).
	 */
	if (xpoll_user_ctl(loop_xp, EPOLL_CTL_ADD, KEY_WORK, EPOLLIN | EPOLLET, KEY_WORK) ||
	    xpoll_user_ctl(loop_xp, EPOLL_CTL_ADD, KEY_STOP, EPOLLIN, KEY_STOP))
		die("xpoll_user_ctl ADD");
	for (int i = 0; i < opt_clients; i++) {
		int sv[2];

		client_xp[i] = xpoll_create1(XPOLL_CLOEXEC);
		if (client_xp[i] < 0 ||
		    xpoll_user_ctl(client_xp[i], EPOLL_CTL_ADD, KEY_DONE, EPOLLIN | EPOLLET,
				   KEY_DONE))
			die("client instance");
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
			die("socketpair");
		conn_fd[i] = sv[0];
		cl[i] = (struct client){ .id = i, .fd = sv[1] };
	}
	printf("xpoll-uevent-loop: 1 loop thread, %d client threads, %d jobs each\n",
	       opt_clients, opt_jobs);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pthread_create(&lt, NULL, loop_thread, &st))
		die("pthread_create");
	for (int i = 0; i < opt_clients; i++)
		if (pthread_create(&ct[i], NULL, client_thread, &cl[i]))
			die("pthread_create");
	for (int i = 0; i < opt_clients; i++) {
		pthread_join(ct[i], NULL);
		answered += cl[i].answered;
	}
	/*
	 * Every client has its answers; the loop may still have byes to
	 * read.  Ask it to stop: it finishes once every connection is gone.
	 * A thread with no instance of its own to wait on triggers with a
	 * call of its own, xpoll_user_trigger().
	 */
	if (xpoll_user_trigger(loop_xp, KEY_STOP, EPOLLIN))
		die("xpoll_user_trigger STOP");
	pthread_join(lt, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	long total = (long)opt_clients * opt_jobs;

	pass = answered == total && st.jobs == total && st.triggers == total &&
	       !atomic_load(&wrong_answers) && st.adds == opt_clients &&
	       st.dels == opt_clients && st.byes_ok == opt_clients && !st.change_errors;
	printf("  jobs answered       %ld of %ld, %ld wrong\n", answered, total,
	       atomic_load(&wrong_answers));
	printf("  loop turns          %ld, one xpoll_ctl_wait() each (%.2f jobs per work wakeup)\n",
	       st.turns, st.wakeups_work ? (double)st.jobs / st.wakeups_work : 0.0);
	printf("  change lists        %ld TRIGGERs of client instances, %ld ADD, %ld DEL; %ld failed\n",
	       st.triggers, st.adds, st.dels, st.change_errors);
	printf("  connections         %d of %d said bye with the right count\n",
	       (int)st.byes_ok, opt_clients);
	printf("  time                %.2f s (%.0f jobs/s)\n", secs, total / secs);
	printf("  RESULT              %s\n", pass ? "PASS" : "FAIL");
	for (int i = 0; i < opt_clients; i++)
		close(client_xp[i]);
	close(loop_xp);
	return pass ? 0 : 1;
}
