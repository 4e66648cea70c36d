#!/usr/bin/env bash
# `make bench-ab AB=REV`: the module at git revision REV against the working
# tree's, in one boot of Debian's kernel: a before/after figure for a change
# to module/ that anyone can reproduce.
#
#   make bench-ab AB=HEAD~1
#   XPOLL_AB_REPS=8 XPOLL_AB_ONLY=null,wait make bench-ab AB=2c7ff96
#   XPOLL_AB_FLAGS=XPOLL_NO_STATS=1 make bench-ab AB=HEAD
#
# XPOLL_AB_FLAGS are make variables for REV's build only: with AB=HEAD
# and XPOLL_NO_STATS=1, the table is the cost of the statistics.
#
# Both modules are built against the distro headers.  In the guest each
# repetition loads one, runs tools/bench/xpoll-bench on xpoll only (one
# repetition of the workloads in XPOLL_AB_ONLY, default null,ctl,wait),
# unloads it and does the same with the other; the order alternates, so
# host noise lands on both sides of a pair, as in `make bench` (an even
# number of repetitions, default 6, puts each build first equally often).
# The table (xpoll-bench --table) pairs the two builds repetition by
# repetition: the ratio is working tree / REV, above 1 better for the
# working tree on rates.
# Results: build/out/ab/{ab.csv,table.txt}.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${AB:-}
if [ -z "$rev" ] || ! base=$(git rev-parse --short "$rev^{commit}" 2>/dev/null); then
	echo "usage: make bench-ab AB=<git revision>  (env XPOLL_AB_REPS, XPOLL_AB_ONLY)" >&2
	exit 2
fi
reps=${XPOLL_AB_REPS:-6}
only=${XPOLL_AB_ONLY:-null,ctl,wait}
case "$reps" in '' | *[!0-9]* | 0) echo "bench-ab: XPOLL_AB_REPS must be a positive number" >&2; exit 2 ;; esac

scripts/deps.sh
scripts/kernel.sh distro >/dev/null
make -s modules-distro
make -s -C tools/bench
kdir=${DISTRO_KDIR:?run through make bench-ab}

# The revision's sources, as build/distro holds the working tree's.
src=build/ab/$base
rm -rf "$src"
mkdir -p "$src"
git archive "$base" Kbuild module uapi | tar -x -C "$src"
# shellcheck disable=SC2086
make -s W=1 -C "$kdir" M="$PWD/$src" ${XPOLL_AB_FLAGS:-} modules

work=tree-$(git rev-parse --short HEAD)
git diff --quiet HEAD -- module uapi Kbuild || work="$work+changes"
out=build/out/ab
rm -rf "$out"
mkdir -p "$out"
{
	echo "# A/B: module at $base${XPOLL_AB_FLAGS:+ built with $XPOLL_AB_FLAGS} (1st) against the working tree at $(git rev-parse --short HEAD) ($work, 2nd)"
	echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; guest: QEMU $(qemu-system-x86_64 --version | head -1 | awk '{print $4}') TCG, 2 vCPUs, 3G, kernel ${kdir##*/linux-headers-}; $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# $reps repetitions of: xpoll-bench --backend xpoll --reps 1 --only $only"
} | tee "$out/table.txt"

# shellcheck disable=SC2016
scripts/vm --kernel distro --mem 3G --timeout "${XPOLL_AB_TIMEOUT:-2400}" -- sh -c '
	set -e
	csv=$XPOLL_OUT/ab/ab.csv
	echo workload,params,metric,backend,rep,value >"$csv"
	one() {	# one(label, ko, rep)
		insmod "$2" max_user_watches=4000000
		tools/bench/xpoll-bench --backend xpoll --reps 1 --only '"$only"' \
			--csv /tmp/one.csv >/dev/null
		rmmod xpoll
		awk -F, -v b="$1" -v r="$3" "NR > 1 { \$4 = b; \$5 = r; print }" OFS=, \
			/tmp/one.csv >>"$csv"
	}
	r=0
	while [ $r -lt '"$reps"' ]; do
		echo "# repetition $((r + 1))/'"$reps"'"
		if [ $((r % 2)) -eq 0 ]; then
			one '"$base"' '"$src"'/module/xpoll.ko $r
			one '"$work"' build/distro/module/xpoll.ko $r
		else
			one '"$work"' build/distro/module/xpoll.ko $r
			one '"$base"' '"$src"'/module/xpoll.ko $r
		fi
		r=$((r + 1))
	done'
tools/bench/xpoll-bench --table "$out/ab.csv" --columns "$base,$work" | tee -a "$out/table.txt"
echo "bench-ab: table $out/table.txt, CSV $out/ab.csv"
