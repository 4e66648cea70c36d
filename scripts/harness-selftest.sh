#!/usr/bin/env bash
# The harness proves it can fail. Each case below must turn a run red,
# and the report must name what failed; if any case comes out green, the
# harness itself is broken and this prints `not ok`.
#
#   scripts/harness-selftest.sh TAPFILE
#
# Needs the debug kernel (scripts/kernel.sh debug). Only this script loads
# the test-only modules of scripts/harness/.
set -uo pipefail
cd "$(dirname "$0")/.."
tap=$1
kdir=$(scripts/kernel.sh debug)/build
ksft=$(scripts/kernel.sh ksft)
b=build/harness
out=build/out/harness
rm -rf "$out"
mkdir -p "$b" "$out/kunit" "$out/ksft"
n=0
result() { # ok|not ok, description
	n=$((n + 1))
	echo "$1 $n $2" >>"$tap"
	echo "   $1 $n $2"
}
: >"$tap"

cp scripts/harness/Kbuild scripts/harness/*.c "$b"/
make -s -C "$kdir" M="$PWD/$b" W=1 modules >"$b/build.log" 2>&1 ||
	{ cat "$b/build.log"; echo "1..1" >"$tap"; result "not ok" "harness modules build"; exit 1; }
gcc -Wall -Wextra -Werror -O2 -I"$ksft" -o "$b/ksft_fail" scripts/harness/ksft_fail.c ||
	{ echo "1..1" >"$tap"; result "not ok" "harness kselftest build"; exit 1; }
echo "1..4" >"$tap"

# 1 + 2: a failing KUnit case and a failing kselftest, in one guest, read
# back through the same parser make check uses.
scripts/vm --kernel debug --timeout 300 --quiet -- sh -c "
	dmesg -c >/dev/null
	insmod $b/xpoll_harness_kunit.ko
	dmesg >$PWD/$out/kunit/harness.kunit.log
	$b/ksft_fail >$PWD/$out/ksft/harness.tap 2>&1
	exit 0" >/dev/null 2>"$b/vm1.err"
vm1=$?
for kind in kunit ksft; do
	report=$(python3 scripts/summarize.py "$out/$kind" 2>&1)
	rc=$?
	if [ $vm1 -eq 0 ] && [ $rc -ne 0 ] && grep -q "harness_fails_on_purpose" <<<"$report" &&
		! grep -q ": harness_passes" <<<"$report" && grep -q "^1 passed, 1 failed" <<<"$report"; then
		result ok "a failing $kind case turns the run red and is named"
	else
		echo "$report" | sed 's/^/     | /'
		result "not ok" "a failing $kind case turns the run red and is named (vm exit $vm1)"
	fi
done

# 3: a KASAN report from a buggy module fails the guest run, whatever the
# command's own status.
scripts/vm --kernel debug --timeout 300 --quiet -- sh -c "insmod $b/xpoll_harness_kasan.ko; exit 0" \
	>/dev/null 2>"$b/vm2.err"
vm2=$?
if [ $vm2 -ne 0 ] && grep -q "KASAN: slab-out-of-bounds" "$b/vm2.err"; then
	result ok "a KASAN report turns the run red (vm exit $vm2) and is shown"
else
	sed 's/^/     | /' "$b/vm2.err"
	result "not ok" "a KASAN report turns the run red (vm exit $vm2)"
fi

# 4: a guest that hangs is killed at the timeout and fails.
t0=$SECONDS
scripts/vm --kernel debug --timeout 25 --quiet -- sleep 3600 >/dev/null 2>"$b/vm3.err"
vm3=$?
if [ $vm3 -eq 124 ] && [ $((SECONDS - t0)) -lt 60 ]; then
	result ok "a hung guest is killed at its timeout and fails (vm exit $vm3, $((SECONDS - t0)) s)"
else
	sed 's/^/     | /' "$b/vm3.err"
	result "not ok" "a hung guest is killed at its timeout and fails (vm exit $vm3)"
fi
grep -q "^not ok" "$tap" && exit 1
exit 0
