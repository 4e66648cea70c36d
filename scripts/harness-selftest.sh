#!/usr/bin/env bash
# The harness proves it can fail. Each case below must turn a run red,
# and the report must name what failed; if any case comes out green, the
# harness itself is broken and this prints `not ok`.
#
#   scripts/harness-selftest.sh TAPFILE
#
# Needs the debug kernel (scripts/kernel.sh debug), the distro kernel and
# its headers (scripts/kernel.sh distro, linux-headers-$XPOLL_DISTRO_PKG).
# Only this script loads the test-only modules of scripts/harness/.
set -uo pipefail
cd "$(dirname "$0")/.."
tap=$1
kdir=$(scripts/kernel.sh debug)/build
dkdir=${DISTRO_KDIR:-/usr/src/linux-headers-${XPOLL_DISTRO_PKG:-6.1.0-56-amd64}}
ksft=$(scripts/kernel.sh ksft)
b=build/harness
bd=build/harness-distro
out=build/out/harness
rm -rf "$out"
rm -rf "$bd"
mkdir -p "$b" "$bd" "$out/kunit" "$out/ksft"
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
# The distro kernel gets the spin module only.
cp scripts/harness/xpoll_harness_spin.c "$bd"/
echo "obj-m += xpoll_harness_spin.o" >"$bd/Kbuild"
make -s -C "$dkdir" M="$PWD/$bd" W=1 modules >"$bd/build.log" 2>&1 ||
	{ cat "$bd/build.log"; echo "1..1" >"$tap"; result "not ok" "harness modules build (distro)"; exit 1; }
gcc -Wall -Wextra -Werror -O2 -I"$ksft" -o "$b/ksft_fail" scripts/harness/ksft_fail.c ||
	{ echo "1..1" >"$tap"; result "not ok" "harness kselftest build"; exit 1; }
echo "1..7" >"$tap"

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
# 5-7: a CPU that spins 30 s with interrupts off (xpoll_harness_spin.ko)
# turns the run red with a hang detector's report, and the guest clock
# moves 30 s meanwhile. Debug guest: CPU 0 first, which alone advances
# jiffies there (HZ_PERIODIC), so that only its own soft-lockup check can
# see it, and only with a clock that does not count ticks (scripts/vm);
# a console line printed on CPU 0 shortly before the spin would reset
# that check, hence 5 s of quiet and insmod on CPU 1. Then CPU 1, which
# the RCU stall detector sees (insmod on CPU 0 starts the grace period
# it holds up), and which a 1-CPU guest lacks. Distro guest: CPU 1.
spin_case() { # KIND VM-EXIT LOG N WHAT REGEX: the Nth spin in LOG
	local part report line ms
	part=$(awk -v n="$4" '/xpoll_harness_spin: CPU/ { if (++i == n) { print; exit } next } i == n - 1' "$3")
	report=$(grep -m1 -o -E "$6" <<<"$part")
	report=${report//#/}
	line=$(grep -o "xpoll_harness_spin: CPU .*" <<<"$part")
	ms=$(sed -n 's/.*guest clock \([0-9]*\) ms.*/\1/p' <<<"$line")
	if [ "$2" -eq 90 ] && [ -n "$report" ] && [ "${ms:-0}" -ge 25000 ]; then
		result ok "$5 spinning 30 s with interrupts off turns the $1 run red (vm exit $2): $report, guest clock $ms ms"
	else
		echo "     | ${line:-no line from xpoll_harness_spin}"
		result "not ok" "$5 spinning 30 s with interrupts off turns the $1 run red (vm exit $2, report '${report:-none}', guest clock ${ms:-?} ms)"
	fi
}
hang='BUG: soft lockup - CPU#[0-9]+ stuck for [0-9]+s|rcu: INFO: [a-z_]+ (self-)?detected (expedited )?stalls?|hard LOCKUP'
t0=$SECONDS
scripts/vm --kernel debug --timeout 240 --quiet --log "$PWD/$b/spin-debug.console.log" -- sh -c "
	sleep 5
	taskset -c 1 insmod $b/xpoll_harness_spin.ko spin_cpu=0
	taskset -c 0 insmod $b/xpoll_harness_spin.ko spin_cpu=1
	exit 0" >/dev/null 2>"$b/spin-debug.err"
vm4=$?
[ $vm4 -eq 90 ] || sed 's/^/     | /' "$b/spin-debug.err"
spin_case debug $vm4 "$b/spin-debug.console.log" 1 "CPU 0 (the jiffies CPU)" "BUG: soft lockup - CPU#0 stuck for [0-9]+s"
spin_case debug $vm4 "$b/spin-debug.console.log" 2 "CPU 1" "$hang"
echo "   (debug guest: $((SECONDS - t0)) s)"
t0=$SECONDS
scripts/vm --kernel distro --timeout 150 --quiet --log "$PWD/$b/spin-distro.console.log" -- sh -c "
	taskset -c 0 insmod $bd/xpoll_harness_spin.ko spin_cpu=1
	exit 0" >/dev/null 2>"$b/spin-distro.err"
vm5=$?
[ $vm5 -eq 90 ] || sed 's/^/     | /' "$b/spin-distro.err"
spin_case distro $vm5 "$b/spin-distro.console.log" 1 "CPU 1" "$hang"
echo "   (distro guest: $((SECONDS - t0)) s)"
grep -q "^not ok" "$tap" && exit 1
exit 0
