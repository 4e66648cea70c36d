// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 3 point 9: /proc/<pid>/fdinfo/<instance> lists every item as
 * epoll's does ("tfd: events: data: pos: ino: sdev:"), and no raw kernel
 * pointer.  Checked on both backends, and xpoll's listing against
 * epoll's for the same registrations.
 */
#include "xp_test.h"
#include <regex.h>
#include <sys/sysmacros.h>

FIXTURE(fdi) { int be, p, efd, rd, wr, s[2]; };
XP_BACKENDS(fdi);

FIXTURE_SETUP(fdi)
{
	int pp[2];

	XP_REQUIRE(variant->be);
	self->be = variant->be;
	self->p = pl_create(self->be, 1);
	ASSERT_LE(0, self->p);
	self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_EQ(0, pipe2(pp, O_NONBLOCK | O_CLOEXEC));
	self->rd = pp[0];
	self->wr = pp[1];
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, self->s));
}

FIXTURE_TEARDOWN(fdi)
{
	close(self->p);
	close(self->efd);
	close(self->rd);
	close(self->wr);
	close(self->s[0]);
	close(self->s[1]);
}

#define CTL(op, fd, ev, d) pl_ctl(self->be, self->p, op, fd, ev, d)

static const struct fdinfo_item *find_tfd(const struct fdinfo_item *it, int n,
					  int tfd)
{
	for (int i = 0; i < n; i++)
		if (it[i].tfd == tfd)
			return &it[i];
	return NULL;
}

/* The kernel's dev_t (MAJOR << 20 | MINOR), as fdinfo prints s_dev. */
static unsigned int kdev(dev_t d)
{
	return (major(d) << 20) | minor(d);
}

TEST_F(fdi, lists_each_item_like_epoll)
{
	struct fdinfo_item it[8];
	const struct fdinfo_item *x;
	struct stat st;
	int fds[3] = { self->efd, self->rd, self->s[0] };
	uint32_t ev[3] = { EPOLLIN, EPOLLIN | EPOLLET | EPOLLRDHUP,
			   EPOLLOUT | EPOLLONESHOT };
	uint64_t data[3] = { 0x1122334455667788ULL, 0, 0x7fffffffffffffffULL };
	int n;

	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, fds[i], ev[i], data[i]));
	}
	n = fdinfo_parse(self->p, it, 8);
	ASSERT_EQ(3, n) TH_LOG("fdinfo items: %d (-EPROTO: a line epoll "
			       "would not print)", n);
	for (int i = 0; i < 3; i++) {
		x = find_tfd(it, n, fds[i]);
		ASSERT_NE(NULL, x) TH_LOG("tfd %d not listed", fds[i]);
		/* epoll stores the mask with ERR and HUP added */
		EXPECT_EQ(ev[i] | EPOLLERR | EPOLLHUP, x->events);
		EXPECT_EQ(data[i], x->data);
		EXPECT_EQ(0, x->pos);
		ASSERT_EQ(0, fstat(fds[i], &st));
		EXPECT_EQ(st.st_ino, x->ino);
		EXPECT_EQ(kdev(st.st_dev), x->sdev);
	}
}

TEST_F(fdi, follows_mod_del_and_oneshot)
{
	struct epoll_event e[4];
	struct fdinfo_item it[8];
	uint64_t one = 1;
	int n;

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, self->efd, EPOLLIN, 1));
	ASSERT_EQ(0, CTL(EPOLL_CTL_MOD, self->efd, EPOLLIN | EPOLLONESHOT, 2));
	n = fdinfo_parse(self->p, it, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(EPOLLIN | EPOLLONESHOT | EPOLLERR | EPOLLHUP, it[0].events);
	EXPECT_EQ(2, it[0].data);
	/* a fired ONESHOT item is disarmed: epoll keeps only the mode bits */
	ASSERT_EQ(8, write(self->efd, &one, 8));
	ASSERT_EQ(1, pl_poll0(self->be, self->p, e));
	n = fdinfo_parse(self->p, it, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(EPOLLONESHOT, it[0].events);
	ASSERT_EQ(0, CTL(EPOLL_CTL_DEL, self->efd, 0, 0));
	EXPECT_EQ(0, fdinfo_parse(self->p, it, 8));
}

TEST_F(fdi, dup_is_listed_as_a_second_item)
{
	struct fdinfo_item it[8];
	int d = dup(self->efd);

	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, self->efd, EPOLLIN, 1));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, d, EPOLLIN, 2));
	ASSERT_EQ(2, fdinfo_parse(self->p, it, 8));
	EXPECT_EQ(it[0].ino, it[1].ino);
	EXPECT_NE(it[0].tfd, it[1].tfd);
	close(d);
}

/* No 16-hex-digit value starting ffff: a kernel address. */
TEST_F(fdi, no_kernel_pointers)
{
	char path[64], text[1 << 16];
	regex_t re;
	ssize_t n;
	int fd, nested = pl_create(self->be, 1), efds[32];

	for (int i = 0; i < 32; i++) {
		efds[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, efds[i], EPOLLIN, i * 0x1000));
	}
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, nested, EPOLLIN, 0x5555));
	ASSERT_EQ(0, CTL(EPOLL_CTL_ADD, self->s[0], EPOLLIN, 0x6666));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->p);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ASSERT_LT(0, n);
	text[n] = 0;
	ASSERT_EQ(0, regcomp(&re, "ffff[0-9a-f]{12}", REG_EXTENDED | REG_ICASE |
			     REG_NOSUB));
	EXPECT_NE(0, regexec(&re, text, 0, NULL, 0)) TH_LOG("fdinfo:\n%s", text);
	regfree(&re);
	for (int i = 0; i < 32; i++)
		close(efds[i]);
	close(nested);
}

/* Both instances with the same items list the same lines. */
TEST(same_listing_as_epoll)
{
	struct fdinfo_item a[16], b[16];
	int p[2], efd = eventfd(0, EFD_CLOEXEC), s[2], na, nb;

	XP_REQUIRE(BE_XPOLL);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
	for (int be = 0; be < 2; be++) {
		p[be] = pl_create(be, 1);
		ASSERT_LE(0, p[be]);
		ASSERT_EQ(0, pl_ctl(be, p[be], EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLET, 1));
		ASSERT_EQ(0, pl_ctl(be, p[be], EPOLL_CTL_ADD, s[0],
				    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLONESHOT, 2));
		ASSERT_EQ(0, pl_ctl(be, p[be], EPOLL_CTL_ADD, s[1], 0, ~0ULL >> 1));
	}
	na = fdinfo_parse(p[0], a, 16);
	nb = fdinfo_parse(p[1], b, 16);
	ASSERT_EQ(3, na);
	ASSERT_EQ(na, nb);
	for (int i = 0; i < na; i++)
		TH_LOG("epoll: tfd %d events %#x data %#llx pos %llu ino %#llx sdev %#x | "
		       "xpoll: tfd %d events %#x data %#llx pos %llu ino %#llx sdev %#x",
		       a[i].tfd, a[i].events, a[i].data, a[i].pos, a[i].ino, a[i].sdev,
		       b[i].tfd, b[i].events, b[i].data, b[i].pos, b[i].ino, b[i].sdev);
	for (int i = 0; i < na; i++) {
		int j;

		for (j = 0; j < nb; j++)
			if (!memcmp(&a[i], &b[j], sizeof(a[i])))
				break;
		EXPECT_GT(nb, j) TH_LOG("epoll item tfd %d events %#x data %#llx "
					"not listed by xpoll", a[i].tfd, a[i].events,
					a[i].data);
	}
	close(p[0]);
	close(p[1]);
	close(efd);
	close(s[0]);
	close(s[1]);
}

XP_NO_HOOK
XP_MAIN
