# xpoll: an alternative eventpoll as a loadable module.
#
#   make            build module/xpoll.ko against KDIR (your running kernel)
#   make run        the main job: deps, build, boot the distro kernel, demo
#   make check      every test, in a debug guest and a distro guest
#   make bench      xpoll against epoll in a distro guest
#   make bench-ab AB=REV   the module at REV against the working tree's
#   make install    module + uapi header + libxpoll + xpoll-stat + man pages under DESTDIR/PREFIX
#   make man-check  lint the man pages (groff -ww, mandoc -Tlint if installed)
#   make dkms       register the module with DKMS
#
# Guest kernels are prepared by scripts/kernel.sh and cached outside the
# repository; modules for them are built in build/<kernel>/.

KDIR ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr/local
DESTDIR ?=
MANDIR ?= $(PREFIX)/share/man
# man/NAME.SECTION: xpoll.4, libxpoll.3, xpoll-preload.8, xpoll-stat.8
MAN_PAGES := $(wildcard man/*.[1-9])
VERSION := 0.1

DISTRO_PKG ?= 6.1.0-56-amd64
DISTRO_KDIR ?= /usr/src/linux-headers-$(DISTRO_PKG)

# Kernel build flags for the module: W=1 always, sparse with C=1.
KMAKE = $(MAKE) W=1 $(if $(C),C=$(C))

.PHONY: all modules clean deps modules-debug modules-distro tools selftests \
	check run bench bench-ab install install-man man-check dkms checkpatch \
	ksft-inc

all: modules

modules:
	$(KMAKE) -C $(KDIR) M=$(CURDIR) modules

# The module for a guest kernel is built in a copy of the sources, so the
# two kernels' objects never mix with each other or with `make`'s.
build/%/Kbuild: Kbuild $(shell find module uapi -name '*.[ch]' -o -name Kbuild 2>/dev/null)
	@mkdir -p build/$*
	@rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod*' module uapi build/$*/
	@cp Kbuild build/$*/Kbuild

modules-debug: build/debug/Kbuild
	$(KMAKE) -C $$(scripts/kernel.sh debug)/build M=$(CURDIR)/build/debug modules

modules-distro: build/distro/Kbuild
	$(KMAKE) -C $(DISTRO_KDIR) M=$(CURDIR)/build/distro modules

# kselftest_harness.h comes from the kernel source package, never copied
# into this repository.
ksft-inc:
	@scripts/kernel.sh ksft

tools:
	$(MAKE) -C tools

selftests:
	$(MAKE) -C selftests KSFT_INC=$$(scripts/kernel.sh ksft)
	@if [ -f selftests/reliability/Makefile ]; then \
		$(MAKE) -C selftests/reliability KSFT_INC=$$(scripts/kernel.sh ksft); fi

deps:
	@scripts/deps.sh

check:
	@scripts/check.sh

run:
	@scripts/run.sh

bench:
	@scripts/bench.sh

bench-ab:
	@AB='$(AB)' DISTRO_KDIR='$(DISTRO_KDIR)' scripts/bench-ab.sh

checkpatch:
	@perl $$(scripts/kernel.sh ksft)/../../../scripts/checkpatch.pl --strict --no-tree \
		--terse -f $$(git ls-files 'module/*.[ch]' 'uapi/*.h' 'scripts/harness/*.c')

install: modules tools
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) modules_install
	install -D -m 0644 uapi/linux/xpoll.h $(DESTDIR)$(PREFIX)/include/linux/xpoll.h
	$(MAKE) -C tools install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	$(MAKE) install-man
	if [ -z "$(DESTDIR)" ]; then depmod -a; fi

# Each page goes to $(MANDIR)/man<its section>/.
install-man:
	@for p in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${p##*.}; \
		echo "install -m 0644 $$p $$d/"; \
		install -d "$$d" && install -m 0644 "$$p" "$$d/" || exit 1; \
	done

# TAP on stdout, one result per page; fails on any warning.
man-check:
	@scripts/man-check.sh

dkms:
	scripts/deps.sh dkms
	rm -rf /usr/src/xpoll-$(VERSION)
	mkdir -p /usr/src/xpoll-$(VERSION)
	cp -r Kbuild module uapi dkms.conf /usr/src/xpoll-$(VERSION)/
	dkms add -m xpoll -v $(VERSION)
	dkms build -m xpoll -v $(VERSION)
	dkms install -m xpoll -v $(VERSION)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	-$(MAKE) -C tools clean
	-$(MAKE) -C selftests clean
	rm -rf build
