#!/bin/sh
# Workload 6 of xpoll-bench (issue 6): a real server. Debian's unmodified
# redis-server, driven by its own load generator (redis-benchmark -t get,set,
# 50 clients), once on the kernel's epoll and once under the xpoll preload,
# alternating over R repetitions; requests per second for each test.
#
#   tools/bench/realserver.sh RESULTS.csv       in a guest with /dev/xpoll
#
# Environment: XPOLL_SERVER_REPS (default 3), XPOLL_SERVER_N (requests per
# test, default 20000; a full run stays under ~3 minutes in a TCG guest).
#
# Rows are appended to RESULTS.csv in xpoll-bench's format
# (workload,params,metric,backend,rep,value; the header is written when the
# file is new or empty): workload "server", params "redis-get"/"redis-set",
# metric "req_per_s", backend "epoll"/"xpoll". Then xpoll-bench's table of
# these rows (xpoll-bench --table): median per backend, spread ((max - min)
# / median, %), ratio xpoll/epoll.
#
# Order: epoll first on even repetitions, xpoll first on odd ones (as
# xpoll-bench does). Every run starts a fresh server (empty data set) and
# checks which backend it really uses through /proc/<pid>/fd: under the
# preload (XPOLL_PRELOAD_REQUIRE=1, no silent fallback) a /dev/xpoll fd and
# no eventpoll fd; plainly, an eventpoll fd and no /dev/xpoll fd. A server
# that does not start, a backend that is not the expected one, a benchmark
# that fails, reports an error or misses a test, or a server that does not
# shut down cleanly makes the script exit non-zero (rows already appended
# stay in the CSV).
# Everything else it writes goes under one mktemp folder in /tmp; the server
# listens on 127.0.0.1 only.

cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
PRE=$REPO/tools/preload/libxpoll-preload.so
CSV=$1
REPS=${XPOLL_SERVER_REPS:-3}
N=${XPOLL_SERVER_N:-20000}
PORT=${XPOLL_SERVER_PORT:-16391}
T=300
rpid=""

if [ -z "$CSV" ]; then
	echo "usage: $0 RESULTS.csv   (env XPOLL_SERVER_REPS, XPOLL_SERVER_N)" >&2
	exit 2
fi
W=$(mktemp -d /tmp/xpoll-realserver.XXXXXX) || exit 1
cleanup() {
	[ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "realserver: FAIL: $*" >&2
	for f in "$W"/redis.log "$W"/stdout "$W"/bench; do
		[ -s "$f" ] && tail -n 15 "$f" | sed "s|^|# $(basename "$f"): |" >&2
	done
	exit 1
}

for c in redis-server redis-benchmark redis-cli; do
	command -v $c >/dev/null || fail "$c missing (apt install redis-server redis-tools)"
done
[ -f "$PRE" ] || fail "$PRE not built (make -C tools)"
[ -c /dev/xpoll ] || fail "/dev/xpoll missing (insmod xpoll.ko first)"

# The server's configuration: loopback, no persistence, files in $W.
cat >"$W/redis.conf" <<EOF
port $PORT
bind 127.0.0.1
save ""
appendonly no
daemonize no
dir $W
logfile $W/redis.log
EOF

# Header when the CSV is new or empty; otherwise append to xpoll-bench's rows.
[ -s "$CSV" ] || echo "workload,params,metric,backend,rep,value" >"$CSV" ||
	fail "cannot write $CSV"

# backend_of PID: "xpoll" or "epoll" from the server's fd links, or
# "mixed"/"none" (both an error here).
backend_of() {
	xf=0 ef=0
	ls -l /proc/"$1"/fd/ >"$W/fds" 2>/dev/null
	while read -r _ _ _ _ _ _ _ _ _ _ target; do
		case "$target" in
		/dev/xpoll) xf=$((xf + 1)) ;;
		*eventpoll*) ef=$((ef + 1)) ;;
		esac
	done <"$W/fds"
	if [ $xf -gt 0 ] && [ $ef -eq 0 ]; then
		echo xpoll
	elif [ $ef -gt 0 ] && [ $xf -eq 0 ]; then
		echo epoll
	elif [ $xf -gt 0 ]; then
		echo "mixed ($xf xpoll, $ef epoll fds)"
	else
		echo none
	fi
}

# run BACKEND REP: one fresh server, one redis-benchmark, two CSV rows.
run() {
	be=$1 rep=$2
	rm -f "$W/redis.log" "$W/stdout" "$W/bench"
	if [ "$be" = xpoll ]; then
		env LD_PRELOAD="$PRE" XPOLL_PRELOAD_REQUIRE=1 \
			redis-server "$W/redis.conf" >"$W/stdout" 2>&1 &
	else
		redis-server "$W/redis.conf" >"$W/stdout" 2>&1 &
	fi
	rpid=$!
	# Up to 30 s for the first PONG (TCG guests start slowly).
	end=$(($(date +%s) + 30))
	up=0
	while [ "$(date +%s)" -lt $end ] && kill -0 "$rpid" 2>/dev/null; do
		if [ "$(timeout 5 redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; then
			up=1
			break
		fi
		sleep 0.2
	done
	[ $up = 1 ] || fail "$be rep $rep: redis-server did not start or answer PING"
	# A PONG from someone else's server on the port is no start of ours.
	kill -0 "$rpid" 2>/dev/null || fail "$be rep $rep: redis-server exited at start"
	got=$(backend_of "$rpid")
	[ "$got" = "$be" ] || fail "$be rep $rep: server uses $got, expected $be"

	timeout "$T" redis-benchmark -p "$PORT" -q --csv -t get,set -n "$N" -c 50 \
		>"$W/bench" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "$be rep $rep: redis-benchmark exit $rc"
	grep -qiE 'error|could not|refused|reset' "$W/bench" &&
		fail "$be rep $rep: redis-benchmark reported an error"
	# The work happened: the benchmark's SETs left their key behind.
	[ "$(timeout 30 redis-cli -p "$PORT" exists key:__rand_int__)" = 1 ] ||
		fail "$be rep $rep: key:__rand_int__ missing after the SET test"
	for t in GET SET; do
		# --csv: "TEST","rps","avg_latency_ms",...
		v=$(awk -F'"' -v t="$t" '$2 == t { print $4 }' "$W/bench")
		case "$v" in
		'' | *[!0-9.]* | 0 | 0.0*) fail "$be rep $rep: no $t rate in the output ('$v')" ;;
		esac
		case $t in GET) p=redis-get ;; SET) p=redis-set ;; esac
		line=$(awk -v p="$p" -v b="$be" -v r="$rep" -v v="$v" \
			'BEGIN { printf "server,%s,req_per_s,%s,%d,%.6g\n", p, b, r, v }')
		echo "$line" >>"$CSV" || fail "cannot append to $CSV"
		echo "$line" >>"$W/samples"
	done
	echo "# rep $rep $be: $(awk -F'"' '$4 ~ /^[0-9]/ { printf "%s %s/s  ", $2, $4 }' "$W/bench")"

	res=$(timeout 30 redis-cli -p "$PORT" shutdown nosave 2>&1)
	wait "$rpid"
	rc=$?
	rpid=""
	[ $rc -eq 0 ] || fail "$be rep $rep: redis-server exit $rc after shutdown ($res)"
}

echo "# server: redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), redis-benchmark -t get,set -n $N -c 50, $REPS repetitions"
: >"$W/samples"
i=0
while [ $i -lt "$REPS" ]; do
	if [ $((i % 2)) -eq 0 ]; then
		run epoll $i
		run xpoll $i
	else
		run xpoll $i
		run epoll $i
	fi
	i=$((i + 1))
done

# The table, with xpoll-bench's own code (median, spread, paired ratio,
# verdict).
"$REPO/tools/bench/xpoll-bench" --table "$W/samples"
