#!/usr/bin/env bash
# `make run`, the main job: install what is missing, build the module and
# the tools, boot Debian's own kernel in a guest (no kernel build on this
# path), load xpoll and run tools/demo: an event-loop server on xpoll
# under load, then the LT/ET pipe scenario on epoll and xpoll side by side,
# then an event loop that other threads hand work to through user events
# and ctl+wait (tools/demo/uevent-loop.c).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { printf '\n== [%3ds] %s\n' $((SECONDS - start)) "$*"; }

step "dependencies (Debian packages; skipped when present)"
scripts/deps.sh
step "distro guest kernel (Debian linux-image, unpacked, cached)"
scripts/kernel.sh distro >/dev/null
step "build: xpoll.ko for the distro kernel, libxpoll, preload, demos"
make -s modules-distro
make -s tools
step "boot the guest, load xpoll, run the demos"
scripts/vm --kernel distro --timeout 600 -- sh -c \
	'insmod "$XPOLL_KO" && echo "xpoll loaded: $(cat /sys/module/xpoll/version 2>/dev/null || echo ok)" &&
	 tools/demo/xpoll-demo && echo && tools/demo/xpoll-uevent-loop'
step "done in $((SECONDS - start)) s"
