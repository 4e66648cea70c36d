#!/bin/sh
# Host-side checks of libxpoll and the preload, for a machine WITHOUT
# /dev/xpoll (never load the module on the host): libxpoll's error paths,
# the preload's fallback to the kernel's epoll, its one-time debug notice,
# and XPOLL_PRELOAD_REQUIRE=1 failing loudly. TAP; exit 0 if all passed.
#   tools/preload/tests/host-check.sh     (from anywhere; make -C tools check-host)
cd "$(dirname "$0")/../.." || exit 1
PRE=$PWD/preload/libxpoll-preload.so
PROG=preload/tests/epoll-prog
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }

if [ -e /dev/xpoll ]; then
	echo "1..0 # SKIP /dev/xpoll exists: these are the no-module checks"
	exit 0
fi

lib/tests/libtest >"$tmp/libtest" 2>&1
check "libtest (libxpoll errno paths, no module)" grep -q '^[0-9]* passed, 0 failed' "$tmp/libtest"

# Only epoll_* leave the preload: no clash with a program's own symbols.
nm -D --defined-only "$PRE" | awk '$2 ~ /^[TW]$/ {print $3}' | sort >"$tmp/syms"
printf '%s\n' epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait >"$tmp/want"
check "preload exports exactly the six epoll functions" cmp -s "$tmp/syms" "$tmp/want"
if [ -e preload/libxpoll-preload32.so ]; then
	nm -D --defined-only preload/libxpoll-preload32.so | awk '$2 ~ /^[TW]$/ {print $3}' | sort >"$tmp/syms32"
	printf '%s\n' __epoll_pwait2_time64 epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait | sort >"$tmp/want32"
	check "32-bit preload: the six and glibc's time64 epoll_pwait2" cmp -s "$tmp/syms32" "$tmp/want32"
fi
check "preload needs only libc at run time" sh -c "! ldd '$PRE' | grep -v -e libc.so -e linux-vdso -e ld-linux -e libdl -e libpthread | grep -q ."

# The fd hint: a marked number reused by another file (white-box).
preload/tests/stale-hint >"$tmp/stale" 2>&1
check "stale fd hint: calls reach the file now at that number ($(head -n 1 "$tmp/stale" | sed 's/^# //'))" grep -q '^[0-9]* passed, 0 failed' "$tmp/stale"

$PROG >"$tmp/plain" 2>&1
check "epoll-prog without the preload" grep -q '^[0-9]* passed, 0 failed' "$tmp/plain"

LD_PRELOAD=$PRE $PROG >"$tmp/fb" 2>"$tmp/fb.err"
rc=$?
check "fallback: epoll-prog under the preload passes (exit $rc)" [ $rc -eq 0 ]
check "fallback: the program got kernel epoll instances" grep -q '^backend: epoll' "$tmp/fb"
check "fallback: silent without XPOLL_PRELOAD_DEBUG" [ ! -s "$tmp/fb.err" ]

XPOLL_PRELOAD_DEBUG=1 LD_PRELOAD=$PRE $PROG >"$tmp/dbg" 2>"$tmp/dbg.err"
rc=$?
check "fallback with DEBUG=1 passes (exit $rc)" [ $rc -eq 0 ]
c=$(grep -c 'falling back to the kernel' "$tmp/dbg.err")
# once per process: the program and its fork()ed child that creates one
check "DEBUG=1: the fallback notice is printed once per process ($c)" [ "$c" -ge 1 ] && [ "$c" -le 2 ]
c=$(grep "falling back" "$tmp/dbg.err" | sed 's/.*\[\([0-9]*\)\].*/\1/' | sort | uniq -d | wc -l)
check "DEBUG=1: never twice for one process" [ "$c" -eq 0 ]

XPOLL_PRELOAD_REQUIRE=1 LD_PRELOAD=$PRE $PROG >"$tmp/req" 2>"$tmp/req.err"
rc=$?
check "REQUIRE=1 without /dev/xpoll: the program fails (exit $rc)" [ $rc -ne 0 ]
check "REQUIRE=1: epoll_create1 failed with ENOENT" grep -q 'not ok 1 - epoll_create1: No such file' "$tmp/req"
check "REQUIRE=1: says why on stderr" grep -q 'XPOLL_PRELOAD_REQUIRE=1, so epoll_create fails' "$tmp/req.err"

# A packaged program through the fallback: python3's selectors use epoll.
if command -v python3 >/dev/null; then
	LD_PRELOAD=$PRE XPOLL_PRELOAD_DEBUG=1 python3 -c '
import selectors, socket
s = selectors.EpollSelector(); a, b = socket.socketpair()
s.register(a, selectors.EVENT_READ, "x"); b.send(b"1")
ev = s.select(1); assert len(ev) == 1 and ev[0][0].data == "x"; print("py-ok")
' >"$tmp/py" 2>"$tmp/py.err"
	check "python3 EpollSelector under the preload (fallback)" grep -q py-ok "$tmp/py"
	check "python3 went through the preload" grep -q 'falling back' "$tmp/py.err"
fi

echo "1..$n"
echo "$((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
