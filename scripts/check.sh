#!/usr/bin/env bash
# `make check`: every test of xpoll, from a fresh machine.
#
#   deps -> debug kernel (cached) -> modules, tools, selftests built
#   -> debug guest: load, KUnit, kselftests, reliability, unload, kmemleak
#      beside it: harness self-test (the harness can fail), then
#      distro guest: load, kselftests, real programs, unload
#   -> one table per suite and the line `N passed, N failed, N skipped`
#
# Guest console logs: build/logs/. Results: build/out/results/.
# XPOLL_CHECK_ONLY="suite ..." runs only those suites in the guests.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
res=build/out/results
host=$res/host
step() { printf '\n== [%4ds] %s\n' $((SECONDS - start)) "$*"; }
n=0
ok() { n=$((n + 1)); echo "ok $n $*" >>"$host/check.tap"; }
notok() { n=$((n + 1)); echo "not ok $n $*" >>"$host/check.tap"; echo "FAILED: $*"; }
finish() {
	echo "1..$n" >>"$host/check.tap"
	step "summary (wall time $((SECONDS - start)) s)"
	python3 scripts/summarize.py "$host" "$res/debug" "$res/distro"
	exit $?
}

rm -rf "$res"
mkdir -p "$host" "$res/debug" "$res/distro"
echo "TAP version 13" >"$host/check.tap"

step "dependencies"
scripts/deps.sh || { notok "dependencies installed"; finish; }

step "guest kernels"
scripts/kernel.sh distro >/dev/null || { notok "distro kernel prepared"; finish; }
scripts/kernel.sh debug >/dev/null || { notok "debug kernel built"; finish; }
ok "guest kernels ready"

step "build: modules (debug, distro), tools, selftests"
if make -s modules-debug modules-distro && make -s tools selftests; then
	ok "build"
else
	notok "build"
	finish
fi

step "host tests: libxpoll and the preload without the module (fallback, REQUIRE, symbols)"
make -s -C tools check-host >"$host/tools-host.tap" 2>&1
tail -n 3 "$host/tools-host.tap"

step "host tests: the summary's counting (no suite may vanish)"
scripts/tests/summarize-check.sh >"$host/summarize.tap" 2>&1
tail -n 1 "$host/summarize.tap"

step "host tests: the bench's table (medians, pairs, verdicts)"
tools/bench/tests/table-check.sh >"$host/bench-table.tap" 2>&1
tail -n 1 "$host/bench-table.tap"

step "host tests: the man pages (groff -ww; mandoc -Tlint where installed)"
# TAP (one result per page) to the file; make's own complaint to the log.
make -s --no-print-directory man-check >"$host/man.tap"
tail -n 1 "$host/man.tap"

# The debug guest takes longest and QEMU keeps about one core busy, so the
# harness self-test and then the distro guest run beside it on the other
# core (measured: about 7 min instead of 10 for a warm run). Their output
# is kept and printed after the debug guest's, so the log reads in order.
only=${XPOLL_CHECK_ONLY:-}
guest() { # KIND: one guest, exit status as scripts/vm's
	# shellcheck disable=SC2086
	scripts/vm --kernel "$1" --timeout "${XPOLL_GUEST_TIMEOUT:-2400}" \
		-- sh scripts/guest-check.sh "$1" $only
}
verdict() { # KIND RC
	case $2 in
	0) ok "$1 guest: suites ran, console clean" ;;
	124) notok "$1 guest: timed out" ;;
	125) notok "$1 guest: died before the suites ended" ;;
	90) notok "$1 guest: kernel splat (see above)" ;;
	*) if [ -s "$res/$1/guest.$1.tap" ]; then
		ok "$1 guest: ran to the end (failures are counted per suite)"
	else
		notok "$1 guest: exit $2"
	fi ;;
	esac
}

bg=build/out/check-bg
rm -rf "$bg"
mkdir -p "$bg"
step "harness self-test, then the distro guest: in the background (output after the debug guest's)"
(
	scripts/harness-selftest.sh "$host/harness-selftest.tap" >"$bg/harness.log" 2>&1 ||
		echo "FAILED: harness self-test" >>"$bg/harness.log"
	step "harness self-test done" >>"$bg/harness.log"
	guest distro >"$bg/distro.log" 2>&1
	echo $? >"$bg/distro.rc"
	step "distro guest done" >>"$bg/distro.log"
) &
bgpid=$!

step "debug guest"
guest debug
verdict debug $?

wait $bgpid
step "harness self-test: each kind of failure must turn a run red"
cat "$bg/harness.log"
step "distro guest"
cat "$bg/distro.log"
verdict distro "$(cat "$bg/distro.rc" 2>/dev/null || echo 125)"
finish
