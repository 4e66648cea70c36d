#!/usr/bin/env bash
# `make bench`: xpoll against epoll on the same kernel, in the same boot.
# Boots Debian's kernel (no debug options), loads xpoll, runs
# tools/bench/xpoll-bench (every workload on both, alternating, several
# repetitions), then tools/bench/realserver.sh (redis-server on epoll and
# under the xpoll preload, driven by redis-benchmark), then draws the CSV as
# PNG charts on the host.
#
#   XPOLL_BENCH_ARGS="--reps 3 --only ctl,wait" make bench
#
# Results: build/out/bench/{results.csv,table.txt,*.png}.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/kernel.sh distro >/dev/null
make -s modules-distro
make -s -C tools/bench
out=build/out/bench
mkdir -p "$out"
# shellcheck disable=SC2016
scripts/vm --kernel distro --timeout "${XPOLL_BENCH_TIMEOUT:-1800}" -- sh -c \
	'insmod "$XPOLL_KO" && tools/bench/xpoll-bench --csv "$XPOLL_OUT/bench/results.csv" '"${XPOLL_BENCH_ARGS:-}"' && tools/bench/realserver.sh "$XPOLL_OUT/bench/results.csv"' |
	tee "$out/table.txt"
# Debian's python3 has matplotlib (python3-matplotlib); another python3 on PATH may not.
/usr/bin/python3 tools/bench/plot.py "$out/results.csv" "$out"
echo "bench: table $out/table.txt, CSV $out/results.csv, charts $out/*.png"
