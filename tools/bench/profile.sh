#!/bin/sh
# Profile one workload of xpoll-bench on one interface, in the guest.
#
#   tools/bench/profile.sh BACKEND WORKLOADS OUTDIR [xpoll-bench args...]
#
# TCG has no PMU, so samples come from the cpu-clock software event (an
# hrtimer): a share of time per kernel symbol, which is what tells where
# one interface spends more than the other. Writes OUTDIR/perf-BACKEND-
# WORKLOADS.txt (flat, by symbol), .callers.txt (call graphs) and
# .threads.txt (per thread, by the call each sample was taken in).
# scripts/bench.sh runs it with XPOLL_BENCH_PROFILE=1.
set -eu
be=$1 only=$2 out=$3
shift 3
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid
data=/tmp/perf-$be.data
name=$out/perf-$be-$(echo "$only" | tr , -)
perf record -q -e cpu-clock -F 2999 -a -g -o "$data" -- \
	tools/bench/xpoll-bench --backend "$be" --only "$only" --reps 1 "$@" >/dev/null
perf report -q -i "$data" --stdio --no-children --sort sym \
	--percent-limit 0.4 -g none >"$name.txt" 2>/dev/null
perf report -q -i "$data" --stdio --no-children --sort sym \
	--percent-limit 2 -g caller,0.5,callee --max-stack 12 >"$name.callers.txt" 2>/dev/null
# Per thread, by call (perf-classify.py): what the flat profile cannot say.
perf script -i "$data" -F comm,tid,ip,sym 2>/dev/null |
	python3 tools/bench/perf-classify.py >"$name.threads.txt"
echo "profile: $name.txt"
