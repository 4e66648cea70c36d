#!/usr/bin/env bash
# `make check`: every test of xpoll, from a fresh machine.
#
#   deps -> debug kernel (cached) -> modules, tools, selftests built
#   -> harness self-test (the harness can fail)
#   -> debug guest: load, KUnit, kselftests, reliability, unload, kmemleak
#   -> distro guest: load, kselftests, real programs, unload
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

step "host tests: the bench's table (medians, pairs, verdicts)"
tools/bench/tests/table-check.sh >"$host/bench-table.tap" 2>&1
tail -n 1 "$host/bench-table.tap"

step "harness self-test: each kind of failure must turn a run red"
scripts/harness-selftest.sh "$host/harness-selftest.tap" || echo "FAILED: harness self-test"

only=${XPOLL_CHECK_ONLY:-}
for kind in debug distro; do
	step "$kind guest"
	# shellcheck disable=SC2086
	scripts/vm --kernel "$kind" --timeout "${XPOLL_GUEST_TIMEOUT:-2400}" \
		-- sh scripts/guest-check.sh "$kind" $only
	rc=$?
	case $rc in
	0) ok "$kind guest: suites ran, console clean" ;;
	124) notok "$kind guest: timed out" ;;
	125) notok "$kind guest: died before the suites ended" ;;
	90) notok "$kind guest: kernel splat (see above)" ;;
	*) if [ -s "$res/$kind/guest.$kind.tap" ]; then
		ok "$kind guest: ran to the end (failures are counted per suite)"
	else
		notok "$kind guest: exit $rc"
	fi ;;
	esac
done
finish
