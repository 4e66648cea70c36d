// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 2 item 7: /dev/xpoll itself.  Every open() is one instance, dup()
 * and fork() share it, O_CLOEXEC holds across exec, XPOLL_IOC_VERSION,
 * error cases (ENOTTY, EFAULT, EINVAL), and the module cannot be removed
 * while an instance is open.
 */
#include "xp_test.h"
#include <dirent.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#define FEAT_ALL (XPOLL_FEAT_CTL | XPOLL_FEAT_WAIT | XPOLL_FEAT_POLL | \
		  XPOLL_FEAT_FDINFO | XPOLL_FEAT_CTL_BATCH | XPOLL_FEAT_PARAMS | \
		  XPOLL_FEAT_CTL_WAIT | XPOLL_FEAT_USER_EVENTS | \
		  XPOLL_FEAT_RING | XPOLL_FEAT_MIN_WAIT | XPOLL_FEAT_STATS)

/* A readable eventfd: the simplest target with an event. */
static int ready_eventfd(void)
{
	int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd;
}

/*
 * The exec helper of cloexec_across_exec: argv = exe --xp-exec-check
 * <cloexec fd> <inherited fd>.  Exit 0 iff the first is closed and the
 * second is still an open, working /dev/xpoll instance.
 */
static int xp_main_hook(int argc, char **argv)
{
	struct xpoll_version v = { 0 };
	char path[64], link[64];
	ssize_t n;
	int a, b;

	if (argc != 4 || strcmp(argv[1], "--xp-exec-check"))
		return -1;
	a = atoi(argv[2]);
	b = atoi(argv[3]);
	if (fcntl(a, F_GETFD) != -1 || errno != EBADF)
		return 10;
	if (fcntl(b, F_GETFD) < 0)
		return 11;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", b);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 12;
	link[n] = 0;
	if (strcmp(link, XPOLL_DEVICE))
		return 13;
	if (ioctl(b, XPOLL_IOC_VERSION, &v) || v.abi_version != XPOLL_ABI_VERSION)
		return 14;
	return 0;
}

FIXTURE(dev) { int xfd; };
FIXTURE_SETUP(dev)
{
	if (!xp_present())
		XP_SKIP("%s: %s missing (module not loaded)", _metadata->name,
			XPOLL_DEVICE);
	self->xfd = xp_open(O_CLOEXEC);
	ASSERT_LE(0, self->xfd) TH_LOG("open %s: %s", XPOLL_DEVICE,
				       strerror(errno));
}
FIXTURE_TEARDOWN(dev)
{
	if (self->xfd >= 0)
		close(self->xfd);
}

TEST_F(dev, device_is_misc_char_mode_0666)
{
	struct stat st;

	ASSERT_EQ(0, stat(XPOLL_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, (int)major(st.st_rdev)); /* MISC_MAJOR */
	EXPECT_EQ(0666, (int)(st.st_mode & 0777));
}

TEST_F(dev, each_open_is_a_new_instance)
{
	struct epoll_event ev[4];
	int b = xp_open(O_CLOEXEC), efd = ready_eventfd();

	ASSERT_LE(0, b);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, xp_ctl_raw(self->xfd, XPOLL_CTL_ADD, efd, EPOLLIN, 7));
	/* The item lives in the first instance only. */
	ASSERT_EQ(1, xp_wait_raw(self->xfd, ev, 4, 0, NULL));
	EXPECT_EQ(7, ev[0].data.u64);
	ASSERT_EQ(0, xp_wait_raw(b, ev, 4, 0, NULL));
	/* The second has its own interest list: no EEXIST there. */
	ASSERT_EQ(0, xp_ctl_raw(b, XPOLL_CTL_ADD, efd, EPOLLIN, 8));
	ASSERT_EQ(1, xp_wait_raw(b, ev, 4, 0, NULL));
	EXPECT_EQ(8, ev[0].data.u64);
	ASSERT_EQ(-1, xp_ctl_raw(b, XPOLL_CTL_ADD, efd, EPOLLIN, 8));
	EXPECT_EQ(EEXIST, errno);
	close(b);
	close(efd);
}

TEST_F(dev, open_close_many)
{
	/* kmemleak (debug guest) checks that these are all freed. */
	for (int i = 0; i < 2000; i++) {
		int fd = xp_open(O_CLOEXEC), efd = ready_eventfd();

		ASSERT_LE(0, fd);
		ASSERT_LE(0, efd);
		ASSERT_EQ(0, xp_ctl_raw(fd, XPOLL_CTL_ADD, efd, EPOLLIN, i));
		if (i & 1)
			close(efd);
		ASSERT_EQ(0, close(fd));
		if (!(i & 1))
			close(efd);
	}
}

TEST_F(dev, dup_shares_the_instance)
{
	struct epoll_event ev[4];
	int d = dup(self->xfd), efd = ready_eventfd();

	ASSERT_LE(0, d);
	ASSERT_EQ(0, xp_ctl_raw(self->xfd, XPOLL_CTL_ADD, efd, EPOLLIN, 42));
	/* Same interest list through the dup. */
	ASSERT_EQ(-1, xp_ctl_raw(d, XPOLL_CTL_ADD, efd, EPOLLIN, 1));
	EXPECT_EQ(EEXIST, errno);
	ASSERT_EQ(1, xp_wait_raw(d, ev, 4, 0, NULL));
	EXPECT_EQ(42, ev[0].data.u64);
	/* Closing one descriptor does not free the instance. */
	ASSERT_EQ(0, close(self->xfd));
	self->xfd = -1;
	ASSERT_EQ(1, xp_wait_raw(d, ev, 4, 0, NULL));
	EXPECT_EQ(42, ev[0].data.u64);
	ASSERT_EQ(0, xp_ctl_raw(d, XPOLL_CTL_DEL, efd, 0, 0));
	ASSERT_EQ(0, xp_wait_raw(d, ev, 4, 0, NULL));
	close(d);
	close(efd);
}

TEST_F(dev, fork_shares_the_instance)
{
	struct epoll_event ev[4];
	int efd = ready_eventfd(), status;
	pid_t pid;

	ASSERT_LE(0, efd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* The child adds; the parent must see the item. */
		_exit(xp_ctl_raw(self->xfd, XPOLL_CTL_ADD, efd, EPOLLIN, 99) ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	ASSERT_EQ(1, xp_wait_raw(self->xfd, ev, 4, 0, NULL));
	EXPECT_EQ(99, ev[0].data.u64);
	EXPECT_EQ(EPOLLIN, ev[0].events);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* And the child sees what the parent added. */
		struct epoll_event e[4];

		if (xp_wait_raw(self->xfd, e, 4, 0, NULL) != 1 ||
		    e[0].data.u64 != 99)
			_exit(2);
		_exit(xp_ctl_raw(self->xfd, XPOLL_CTL_DEL, efd, 0, 0) ? 3 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	/* The child's DEL removed it from the shared instance. */
	ASSERT_EQ(0, xp_wait_raw(self->xfd, ev, 4, 0, NULL));
	close(efd);
}

TEST_F(dev, cloexec_flag_set_only_when_asked)
{
	int fd = xp_open(0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(self->xfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

TEST_F(dev, cloexec_closed_across_exec)
{
	char a[16], b[16];
	int keep = xp_open(0), status;
	pid_t pid;

	ASSERT_LE(0, keep);
	snprintf(a, sizeof(a), "%d", self->xfd);
	snprintf(b, sizeof(b), "%d", keep);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		execl("/proc/self/exe", "dev_lifecycle", "--xp-exec-check", a, b,
		      (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("exec helper: 10 cloexec fd open, 11..14 kept fd wrong");
	close(keep);
}

TEST_F(dev, version_ioctl)
{
	struct xpoll_version v;

	memset(&v, 0, sizeof(v));
	v.abi_version = 0xdead; /* out-only: any input is fine */
	v.features = ~0ULL;
	ASSERT_EQ(0, ioctl(self->xfd, XPOLL_IOC_VERSION, &v));
	EXPECT_EQ(XPOLL_ABI_VERSION, v.abi_version);
	/* No bit outside what this module implements. */
	EXPECT_EQ(0, v.features & ~(uint64_t)FEAT_ALL)
		TH_LOG("features 0x%llx", (unsigned long long)v.features);
	/* Every one it implements: issue 3's CTL, WAIT (with sigmask),
	 * POLL, FDINFO, then PARAMS, CTL_BATCH, CTL_WAIT, user events, the
	 * ready ring, minimum-wait batching and statistics. */
	EXPECT_EQ(FEAT_ALL, v.features & FEAT_ALL)
		TH_LOG("features 0x%llx", (unsigned long long)v.features);
	/* Input fields left as they were. */
	EXPECT_EQ(0, v.reserved0);
	EXPECT_EQ(0, v.reserved[0]);
	EXPECT_EQ(0, v.reserved[1]);
}

TEST_F(dev, version_reserved_nonzero_is_einval)
{
	for (int i = 0; i < 3; i++) {
		struct xpoll_version v;

		memset(&v, 0, sizeof(v));
		if (i == 0)
			v.reserved0 = 1;
		else
			v.reserved[i - 1] = 1ULL << 63;
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->xfd, XPOLL_IOC_VERSION, &v));
		EXPECT_EQ(EINVAL, errno) TH_LOG("reserved field %d", i);
	}
}

/* A page that faults on read, and one that faults on write. */
static void *page(int prot)
{
	void *p = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

TEST_F(dev, bad_pointers_are_efault)
{
	void *none = page(PROT_NONE), *ro = page(PROT_READ);
	void *kernel = (void *)0xffff888000000000ULL;
	unsigned long cmds[] = { XPOLL_IOC_VERSION, XPOLL_IOC_CTL,
				 XPOLL_IOC_WAIT };
	void *bad[] = { NULL, (void *)1, none, kernel };

	ASSERT_NE(NULL, none);
	ASSERT_NE(NULL, ro);
	for (unsigned int c = 0; c < 3; c++) {
		for (unsigned int b = 0; b < 4; b++) {
			errno = 0;
			EXPECT_EQ(-1, ioctl(self->xfd, cmds[c], bad[b]));
			EXPECT_EQ(EFAULT, errno)
				TH_LOG("cmd %#lx ptr %p", cmds[c], bad[b]);
		}
	}
	/* VERSION writes its result back: a read-only (zeroed) page faults. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->xfd, XPOLL_IOC_VERSION, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(none, 4096);
	munmap(ro, 4096);
}

TEST_F(dev, unknown_ioctl_is_enotty)
{
	unsigned long cmds[] = {
		_IO(XPOLL_IOC_MAGIC, 0x0f),
		_IOWR(XPOLL_IOC_MAGIC, 0x03, struct xpoll_wait),
		_IOWR(XPOLL_IOC_MAGIC, 0x7f, int),
		/* the right number with a wrong size or direction */
		_IOWR(XPOLL_IOC_MAGIC, 0x00, char[8]),
		_IOR(XPOLL_IOC_MAGIC, 0x01, struct xpoll_ctl),
		_IOWR(XPOLL_IOC_MAGIC, 0x02, struct xpoll_wait),
		_IOW('T', 1, int),
		0,
		0xffffffffUL,
	};
	char buf[256] = { 0 };

	for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->xfd, cmds[i], buf));
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
}

/* ---- module removal ---- */

static int delete_module(const char *name, int flags)
{
	return syscall(SYS_delete_module, name, flags);
}

/* The parameters the module was loaded with, as an insmod string, so a
 * reload leaves it as it was.  Only readable, non-empty values. */
static void module_params(char *out, size_t len)
{
	const char *dir = "/sys/module/xpoll/parameters";
	struct dirent *de;
	DIR *d = opendir(dir);

	out[0] = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[512], val[256];
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, val, sizeof(val) - 1);
		close(fd);
		if (n <= 0)
			continue;
		val[n] = 0;
		val[strcspn(val, "\n")] = 0;
		if (strlen(out) + strlen(de->d_name) + strlen(val) + 3 < len)
			sprintf(out + strlen(out), "%s%s=%s", out[0] ? " " : "",
				de->d_name, val);
	}
	closedir(d);
}

/* Load $XPOLL_KO again after a test unloaded it. */
static int reload(const char *params)
{
	const char *ko = getenv("XPOLL_KO");
	int fd, r;

	if (!ko)
		return -1;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = syscall(SYS_finit_module, fd, params, 0);
	close(fd);
	for (int i = 0; r == 0 && i < 200 && !xp_present(); i++)
		msleep(10);
	return r;
}

static bool dir_empty(const char *path)
{
	struct dirent *de;
	bool empty = true;
	DIR *d = opendir(path);

	if (!d)
		return true;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			empty = false;
	closedir(d);
	return empty;
}

TEST_F(dev, rmmod_refused_while_open)
{
	char params[1024];
	struct xpoll_version v = { 0 };
	int r, err;

	if (geteuid())
		XP_SKIP("%s: needs root", _metadata->name);
	if (access("/sys/module/xpoll", F_OK))
		XP_SKIP("%s: xpoll is built in or not a module", _metadata->name);
	module_params(params, sizeof(params));
	r = delete_module("xpoll", O_NONBLOCK);
	err = errno;
	if (r == 0) {
		/* It went away under an open instance: put it back. */
		int rl = reload(params);

		ASSERT_EQ(0, rl) TH_LOG("module unloaded while open and reload failed");
		ASSERT_NE(0, r) TH_LOG("delete_module succeeded with an instance open");
	}
	/* In use: EWOULDBLOCK from the refcount, EBUSY also means refused. */
	EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY)
		TH_LOG("errno %d (%s)", err, strerror(err));
	EXPECT_EQ(0, access("/sys/module/xpoll", F_OK));
	/* The open instance still works. */
	EXPECT_EQ(0, ioctl(self->xfd, XPOLL_IOC_VERSION, &v));
	EXPECT_EQ(XPOLL_ABI_VERSION, v.abi_version);
}

TEST_F(dev, rmmod_allowed_after_last_close)
{
	char params[1024];
	int r = -1, err = 0;

	if (geteuid())
		XP_SKIP("%s: needs root", _metadata->name);
	if (!getenv("XPOLL_KO"))
		XP_SKIP("%s: $XPOLL_KO not set, cannot reload", _metadata->name);
	if (access("/sys/module/xpoll", F_OK) ||
	    !dir_empty("/sys/module/xpoll/holders"))
		XP_SKIP("%s: xpoll not a module or held by another module",
			_metadata->name);
	module_params(params, sizeof(params));
	/* The last close of every instance releases the module. */
	close(self->xfd);
	self->xfd = -1;
	for (int i = 0; i < 100; i++) {
		r = delete_module("xpoll", O_NONBLOCK);
		err = errno;
		if (r == 0 || (err != EWOULDBLOCK && err != EBUSY))
			break;
		msleep(20); /* a deferred fput may still hold it */
	}
	if (r == 0) {
		ASSERT_EQ(0, reload(params)) TH_LOG("reload of %s failed: %s",
						  getenv("XPOLL_KO"), strerror(errno));
	}
	ASSERT_EQ(0, r) TH_LOG("delete_module: %s (another open instance "
			       "in this run?)", strerror(err));
	EXPECT_TRUE(xp_present());
}

/*
 * What the file calls an epoll program might make on its descriptor do
 * on an instance (issue 17): lseek() as epoll's noop_llseek (the
 * position, 0), pread/pwrite ESPIPE, read/write EINVAL, mmap ENODEV.
 * Two differences stay, pinned here: the descriptor is a character
 * device, /dev/xpoll, not anon_inode:[eventpoll].
 */
TEST_F(dev, file_calls_as_epoll)
{
	static const char *const what[] = {
		"lseek(0, SEEK_CUR)", "lseek(10, SEEK_SET)", "lseek(0, SEEK_END)",
		"lseek(-1, SEEK_SET)", "pread", "pwrite", "read", "write", "mmap",
	};
	long r[2][9];
	int e[2][9];
	char buf[8] = { 0 }, path[64], link[64];
	struct stat st[2];
	ssize_t n;

	XP_REQUIRE(BE_XPOLL);
	for (int be = BE_EPOLL; be <= BE_XPOLL; be++) {
		int p = pl_create(be, 1);
		void *m;
		int i = 0;

		ASSERT_LE(0, p);
#define XP_CALL(expr) do { errno = 0; r[be][i] = (long)(expr); \
			   e[be][i] = errno; i++; } while (0)
		XP_CALL(lseek(p, 0, SEEK_CUR));
		XP_CALL(lseek(p, 10, SEEK_SET));
		XP_CALL(lseek(p, 0, SEEK_END));
		XP_CALL(lseek(p, -1, SEEK_SET));
		XP_CALL(pread(p, buf, 1, 0));
		XP_CALL(pwrite(p, buf, 1, 0));
		XP_CALL(read(p, buf, 1));
		XP_CALL(write(p, buf, 1));
		m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, p, 0);
		r[be][i] = m == MAP_FAILED ? -1 : 0;
		e[be][i] = m == MAP_FAILED ? errno : 0;
		i++;
		if (m != MAP_FAILED)
			munmap(m, 4096);
#undef XP_CALL
		ASSERT_EQ(0, fstat(p, &st[be]));
		snprintf(path, sizeof(path), "/proc/self/fd/%d", p);
		n = readlink(path, link, sizeof(link) - 1);
		ASSERT_LT(0, n);
		link[n] = 0;
		TH_LOG("%s: /proc/self/fd -> %s, st_mode %o", be_name[be], link,
		       st[be].st_mode);
		if (be == BE_XPOLL) {
			EXPECT_STREQ("/dev/xpoll", link);
			EXPECT_TRUE(S_ISCHR(st[be].st_mode));
		} else {
			EXPECT_STREQ("anon_inode:[eventpoll]", link);
		}
		close(p);
	}
	for (int i = 0; i < 9; i++) {
		TH_LOG("%-20s epoll %ld (%s), xpoll %ld (%s)", what[i],
		       r[BE_EPOLL][i], strerror(e[BE_EPOLL][i]),
		       r[BE_XPOLL][i], strerror(e[BE_XPOLL][i]));
		EXPECT_EQ(r[BE_EPOLL][i], r[BE_XPOLL][i]);
		EXPECT_EQ(e[BE_EPOLL][i], e[BE_XPOLL][i]);
	}
}

XP_MAIN
