#!/usr/bin/env bash
# `make bench`: xpoll against epoll on the same kernel, in the same boot.
# Boots Debian's kernel (no debug options), loads xpoll, runs
# tools/bench/xpoll-bench (every workload on both, alternating, several
# repetitions), tools/bench/percall (ns per call, entry against work),
# then tools/bench/realserver.sh (redis-server and nginx with keep-alive
# off, on epoll and under the xpoll preload, driven by redis-benchmark and
# ab), then draws the CSV as PNG charts on the host.
#
#   make bench
#   XPOLL_BENCH_ARGS="--reps 3 --only ctl,wait" make bench
#   XPOLL_BENCH_ONLY=churn,nginx-close make bench   # only these rows
#   XPOLL_BENCH_KO=/path/to/xpoll.ko make bench     # another build (distro)
#   XPOLL_BENCH_PROFILE=ctl,wait make bench     # also perf profiles, both
#   XPOLL_BENCH_APPEND=mitigations=auto make bench   # guest kernel parameters
#
# XPOLL_BENCH_ONLY (default: everything) is a comma list of xpoll-bench's
# workloads (null, ctl, wait, ctlwait, latency, pingpong, fixedrate, herd,
# memory, churn, the ready ring's ring1, ring64, ringhttp, ringmem, and
# ringaa, their A/A control, which runs only when named), percall, and
# realserver.sh's servers (redis, nginx-close); what it leaves out is not
# run. XPOLL_BENCH_KO loads that module instead of the working tree's
# build/distro one (it must be built for the distro kernel); the table's
# header names it.
#
# The guest kernel runs with mitigations=off unless XPOLL_BENCH_APPEND says
# otherwise (scripts/vm --append); the table's header names the parameters.
# The guest has XPOLL_BENCH_MEM (default 3G) of memory, and both epoll's and
# xpoll's per-user watch limits are raised, so the 1M-target ctl row fits.
# Results: build/out/bench/{results.csv,table.txt,*.png}, and with
# XPOLL_BENCH_PROFILE build/out/bench/profile/perf-{epoll,xpoll}-*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/kernel.sh distro >/dev/null
make -s modules-distro
make -s tools
make -s -C tools/bench
# XPOLL_BENCH_ONLY: which of the three programs run, and on what.
wl="" servers="" percall=0
if [ -z "${XPOLL_BENCH_ONLY:-}" ]; then
	wl=all servers=redis,nginx-close percall=1
else
	for w in ${XPOLL_BENCH_ONLY//,/ }; do
		case $w in
		null | ctl | wait | ctlwait | latency | pingpong | fixedrate | herd | memory | churn | \
		ring1 | ring64 | ringhttp | ringmem | ringaa) wl="$wl${wl:+,}$w" ;;
		percall) percall=1 ;;
		redis | nginx-close) servers="$servers${servers:+,}$w" ;;
		*)
			echo "bench: unknown row '$w' in XPOLL_BENCH_ONLY (null ctl wait ctlwait latency pingpong fixedrate herd memory churn ring1 ring64 ringhttp ringmem ringaa percall redis nginx-close)" >&2
			exit 2 ;;
		esac
	done
fi
only_arg=""
[ "$wl" = all ] || only_arg="--only $wl"
ko=${XPOLL_BENCH_KO:-}
if [ -n "$ko" ]; then
	[ -f "$ko" ] || { echo "bench: XPOLL_BENCH_KO=$ko: no such file" >&2; exit 2; }
	ko=$(realpath "$ko")
fi
out=build/out/bench
rm -rf "$out"
mkdir -p "$out/profile"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- module uapi tools/bench ':!tools/bench/results' 2>/dev/null || commit="$commit+changes"
modname="module at $commit"
[ -z "$ko" ] || modname="module $ko (tools at $commit)"
{
	echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
	echo "# guest: QEMU $(qemu-system-x86_64 --version | head -1 | awk '{print $4}') TCG, 2 vCPUs, ${XPOLL_BENCH_MEM:-3G}; kernel parameters mitigations=off ${XPOLL_BENCH_APPEND:-}; $modname; $(date -u '+%Y-%m-%d %H:%M UTC')"
} | tee "$out/table.txt"

watches=4000000
# shellcheck disable=SC2016
XPOLL_BENCH_KO_PATH=$ko scripts/vm --kernel distro --mem "${XPOLL_BENCH_MEM:-3G}" --append "${XPOLL_BENCH_APPEND:-}" \
	--timeout "${XPOLL_BENCH_TIMEOUT:-2400}" -- sh -c '
	set -e
	echo '$watches' >/proc/sys/fs/epoll/max_user_watches
	insmod "${XPOLL_BENCH_KO_PATH:-$XPOLL_KO}" max_user_watches='$watches'
	if [ -n "'"$wl"'" ]; then
		tools/bench/xpoll-bench --max-targets 1000000 --csv "$XPOLL_OUT/bench/results.csv" '"$only_arg ${XPOLL_BENCH_ARGS:-}"'
		echo
	fi
	if [ '$percall' = 1 ]; then
		taskset -c 1 tools/bench/percall 5
	fi
	if [ -n "'"$servers"'" ]; then
		XPOLL_SERVER_ONLY='"$servers"' tools/bench/realserver.sh "$XPOLL_OUT/bench/results.csv"
	fi
	if [ -n "${XPOLL_BENCH_PROFILE:-}" ]; then
		for be in epoll xpoll; do
			tools/bench/profile.sh $be "$XPOLL_BENCH_PROFILE" "$XPOLL_OUT/bench/profile"
		done
	fi' | tee -a "$out/table.txt"
# Debian's python3 has matplotlib (python3-matplotlib); another python3 on PATH may not.
/usr/bin/python3 tools/bench/plot.py "$out/results.csv" "$out"
echo "bench: table $out/table.txt, CSV $out/results.csv, charts $out/*.png"
