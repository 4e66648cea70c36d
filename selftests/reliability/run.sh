#!/bin/sh
# Guest side of the xpoll reliability tests (issue 5), with the bounds of
# `make check`. Run as root in a guest, from anywhere:
#
#   selftests/reliability/run.sh [RESULTS_DIR]
#
# Each program prints TAP; with RESULTS_DIR each one's TAP also goes to
# RESULTS_DIR/reliability-<name>.<kernel>.tap for scripts/summarize.py.
# The module is loaded from $XPOLL_KO if /dev/xpoll is missing. Exit status
# non-zero if any program failed. README.md here gives the longer runs.
# XPOLL_REL_SKIP="name ..." leaves those programs out (names as in run below).
cd "$(dirname "$0")/../.." || exit 2
res=${1:-}
kind=${XPOLL_KERNEL:-debug}
rc=0

if [ ! -c /dev/xpoll ] && [ -n "${XPOLL_KO:-}" ]; then
	insmod "$XPOLL_KO" || exit 2
fi

# run NAME TIMEOUT CMD...: a program that outlives TIMEOUT is killed, and
# its missing TAP results count as failures.
run() {
	name=$1
	limit=$2
	shift 2
	case " ${XPOLL_REL_SKIP:-} " in
	*" $name "*) echo "== reliability/$name: skipped (XPOLL_REL_SKIP)"; return ;;
	esac
	echo "== reliability/$name: $*"
	if [ -n "$res" ]; then
		out=$res/reliability-$name.$kind.tap
	else
		out=/tmp/reliability-$name.tap
	fi
	start=$(date +%s)
	timeout -k 10 "$limit" "$@" >"$out" 2>&1
	r=$?
	cat "$out"
	echo "== reliability/$name: exit $r after $(( $(date +%s) - start )) s"
	case $r in
	0 | 4) ;;
	124 | 137) echo "not ok 999 $name killed after $limit s" >>"$out"; rc=1 ;;
	*) rc=1 ;;
	esac
}

run limits 300 selftests/reliability/limits
run faultinj 300 tools/faultinj/xpoll-faultinj
run fuzz 180 tools/fuzz/xpoll-fuzz --calls 200000 --seconds 30 --threads 4
run stress 240 tools/stress/xpoll-stress --seconds 20
run lifecycle 600 selftests/reliability/lifecycle
# last: a kernel that recurses through epoll hangs or dies here
run nest_cycle 120 selftests/reliability/nest_cycle
exit $rc
