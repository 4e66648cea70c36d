#!/bin/sh
# Workload 6 of xpoll-bench (issue 6): real servers, once on the kernel's
# epoll and once under the xpoll preload, alternating over R repetitions.
#   redis        Debian's unmodified redis-server, driven by its own load
#                generator (redis-benchmark -t get,set, 50 clients):
#                requests per second for each test.
#   nginx-close  nginx (nginx-light) with keepalive_timeout 0 serving a 1 KiB
#                file, driven by ab -n N -c 1 (no -k): every request is a new
#                connection that nginx closes without EPOLL_CTL_DEL and ab
#                reads up to EOF, so a FIN sent late shows in the time per
#                request (ms, ab's mean). Every answer must be a 200. nginx
#                and ab run on the same (last) CPU.
#
#   tools/bench/realserver.sh RESULTS.csv       in a guest with /dev/xpoll
#
# Environment: XPOLL_SERVER_ONLY (servers to run, default
# "redis,nginx-close"), XPOLL_SERVER_REPS (default 3), XPOLL_SERVER_N
# (requests per redis test, default 20000; redis stays under ~3 minutes in
# a TCG guest), XPOLL_SERVER_CLOSE_N (requests per nginx-close run, default
# 200).
#
# Rows are appended to RESULTS.csv in xpoll-bench's format
# (workload,params,metric,backend,rep,value; the header is written when the
# file is new or empty): workload "server", params "redis-get"/"redis-set"
# with metric "req_per_s", params "nginx-close" with metric "ms/request",
# backend "epoll"/"xpoll". Then xpoll-bench's table of these rows
# (xpoll-bench --table): median per backend, spread ((max - min) / median,
# %), ratio xpoll/epoll.
#
# Order: epoll first on even repetitions, xpoll first on odd ones (as
# xpoll-bench does). Every run starts a fresh server (empty data set) and
# checks which backend it really uses through /proc/<pid>/fd: under the
# preload (XPOLL_PRELOAD_REQUIRE=1, no silent fallback) a /dev/xpoll fd and
# no eventpoll fd; plainly, an eventpoll fd and no /dev/xpoll fd. A server
# that does not start, a backend that is not the expected one, a benchmark
# that fails, reports an error or misses a test (for ab: fewer complete
# requests than asked, a failed one, any non-2xx answer, a body of another
# length), or a server that does not shut down cleanly makes the script exit
# non-zero (rows already appended stay in the CSV).
# Everything else it writes goes under one mktemp folder in /tmp; the server
# listens on 127.0.0.1 only.

cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
PRE=$REPO/tools/preload/libxpoll-preload.so
CSV=$1
REPS=${XPOLL_SERVER_REPS:-3}
N=${XPOLL_SERVER_N:-20000}
PORT=${XPOLL_SERVER_PORT:-16391}
ONLY=${XPOLL_SERVER_ONLY:-redis,nginx-close}
CN=${XPOLL_SERVER_CLOSE_N:-200}
NPORT=${XPOLL_SERVER_NGINX_PORT:-18091}
T=300
rpid=""

if [ -z "$CSV" ]; then
	echo "usage: $0 RESULTS.csv   (env XPOLL_SERVER_ONLY, XPOLL_SERVER_REPS, XPOLL_SERVER_N, XPOLL_SERVER_CLOSE_N)" >&2
	exit 2
fi
servers=""
for s in $(echo "$ONLY" | tr , ' '); do
	case $s in
	redis | nginx-close) servers="$servers $s" ;;
	*) echo "realserver: unknown server '$s' in XPOLL_SERVER_ONLY (redis, nginx-close)" >&2; exit 2 ;;
	esac
done
[ -n "$servers" ] || { echo "realserver: XPOLL_SERVER_ONLY names no server" >&2; exit 2; }
W=$(mktemp -d /tmp/xpoll-realserver.XXXXXX) || exit 1
cleanup() {
	[ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "realserver: FAIL: $*" >&2
	for f in "$W"/redis.log "$W"/ng/error.log "$W"/stdout "$W"/bench; do
		[ -s "$f" ] && tail -n 15 "$f" | sed "s|^|# $(basename "$f"): |" >&2
	done
	exit 1
}

case " $servers " in *" redis "*)
	for c in redis-server redis-benchmark redis-cli; do
		command -v $c >/dev/null || fail "$c missing (apt install redis-server redis-tools)"
	done ;;
esac
case " $servers " in *" nginx-close "*)
	for c in nginx ab; do
		command -v $c >/dev/null || fail "$c missing (apt install nginx-light apache2-utils)"
	done ;;
esac
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

# nginx's: one process (master_process off: the process started is the one
# whose fds tell its backend), no keep-alive, a 1 KiB file, loopback, every
# path under $W/ng.
mkdir -p "$W/ng/html" "$W/ng/tmp"
head -c 1024 /dev/urandom >"$W/ng/html/1k.bin"
user=""
[ "$(id -u)" -eq 0 ] && user="user root root;"
cat >"$W/ng/nginx.conf" <<EOF
$user
worker_processes 1;
master_process off;
daemon off;
pid $W/ng/nginx.pid;
error_log $W/ng/error.log notice;
events {
	use epoll;
	worker_connections 256;
}
http {
	types { application/octet-stream bin; }
	access_log off;
	keepalive_timeout 0;
	client_body_temp_path $W/ng/tmp/body;
	proxy_temp_path $W/ng/tmp/proxy;
	fastcgi_temp_path $W/ng/tmp/fastcgi;
	uwsgi_temp_path $W/ng/tmp/uwsgi;
	scgi_temp_path $W/ng/tmp/scgi;
	server {
		listen 127.0.0.1:$NPORT;
		root $W/ng/html;
	}
}
EOF
URL=http://127.0.0.1:$NPORT/1k.bin
# nginx and ab share the last CPU, as xpoll-bench's churn does: a wakeup
# across vCPUs of a TCG guest waits for the host to run the other vCPU.
NCPU=$(($(nproc) - 1))

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

# await_up CHECK: up to 30 s for CHECK to succeed while the server ($rpid)
# lives (TCG guests start slowly); the status of the last check.
await_up() {
	local end=$(($(date +%s) + 30))

	while [ "$(date +%s)" -lt $end ] && kill -0 "$rpid" 2>/dev/null; do
		"$1" && return 0
		sleep 0.2
	done
	return 1
}

redis_pong() {
	[ "$(timeout 5 redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]
}

nginx_200() {
	timeout 10 ab -s 5 -n 1 "$URL" >"$W/bench" 2>&1 && ab_ok "$W/bench" 1
}

# run_redis BACKEND REP: one fresh server, one redis-benchmark, two CSV rows.
run_redis() {
	be=$1 rep=$2
	rm -f "$W/redis.log" "$W/stdout" "$W/bench"
	if [ "$be" = xpoll ]; then
		env LD_PRELOAD="$PRE" XPOLL_PRELOAD_REQUIRE=1 \
			redis-server "$W/redis.conf" >"$W/stdout" 2>&1 &
	else
		redis-server "$W/redis.conf" >"$W/stdout" 2>&1 &
	fi
	rpid=$!
	await_up redis_pong || fail "$be rep $rep: redis-server did not start or answer PING"
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

# ab_ok FILE REQUESTS: ab's report says every request completed, none
# failed, every answer was a 2xx (ab counts the others apart, not as
# failures) and every body was the 1 KiB file.
ab_ok() {
	grep -q "^Complete requests: *$2\$" "$1" &&
		grep -q '^Failed requests: *0$' "$1" &&
		! grep -q 'Non-2xx' "$1" &&
		grep -q '^Document Length: *1024 bytes' "$1"
}

# run_nginx BACKEND REP: one fresh nginx, one ab -n CN -c 1, one CSV row.
run_nginx() {
	be=$1 rep=$2
	rm -f "$W/ng/error.log" "$W/stdout" "$W/bench"
	if [ "$be" = xpoll ]; then
		env LD_PRELOAD="$PRE" XPOLL_PRELOAD_REQUIRE=1 taskset -c "$NCPU" nginx \
			-p "$W/ng" -e "$W/ng/error.log" -c "$W/ng/nginx.conf" >"$W/stdout" 2>&1 &
	else
		taskset -c "$NCPU" nginx -p "$W/ng" -e "$W/ng/error.log" -c "$W/ng/nginx.conf" \
			>"$W/stdout" 2>&1 &
	fi
	rpid=$!
	await_up nginx_200 || fail "$be rep $rep: nginx did not start or answer a GET with a 200"
	kill -0 "$rpid" 2>/dev/null || fail "$be rep $rep: nginx exited at start"
	got=$(backend_of "$rpid")
	[ "$got" = "$be" ] || fail "$be rep $rep: nginx uses $got, expected $be"

	timeout "$T" taskset -c "$NCPU" ab -s 30 -n "$CN" -c 1 "$URL" >"$W/bench" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "$be rep $rep: ab exit $rc"
	ab_ok "$W/bench" "$CN" ||
		fail "$be rep $rep: ab: not $CN complete 200 answers of 1024 bytes"
	# "Time per request:       1.926 [ms] (mean)": the first such line
	# (with -c 1 the second one says the same).
	v=$(awk '/^Time per request:/ { print $4; exit }' "$W/bench")
	case "$v" in
	'' | *[!0-9.]* | 0 | 0.0 | 0.00 | 0.000) fail "$be rep $rep: no time per request in ab's output ('$v')" ;;
	esac
	line=$(awk -v b="$be" -v r="$rep" -v v="$v" \
		'BEGIN { printf "server,nginx-close,ms/request,%s,%d,%.6g\n", b, r, v }')
	echo "$line" >>"$CSV" || fail "cannot append to $CSV"
	echo "$line" >>"$W/samples"
	echo "# rep $rep $be: nginx-close $v ms/request, $CN requests, all 200"

	kill -QUIT "$rpid"
	wait "$rpid"
	rc=$?
	rpid=""
	[ $rc -eq 0 ] || fail "$be rep $rep: nginx exit $rc after SIGQUIT"
	if grep -E '\[(alert|crit|emerg)\]' "$W/ng/error.log" >"$W/bad"; then
		fail "$be rep $rep: nginx error log: $(head -n 3 "$W/bad")"
	fi
}

# run SERVER BACKEND REP
run() {
	case $1 in
	redis) run_redis "$2" "$3" ;;
	nginx-close) run_nginx "$2" "$3" ;;
	esac
}

case " $servers " in *" redis "*)
	echo "# server: redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), redis-benchmark -t get,set -n $N -c 50, $REPS repetitions" ;;
esac
case " $servers " in *" nginx-close "*)
	echo "# server: nginx $(nginx -v 2>&1 | sed 's|.*nginx/||'), keepalive_timeout 0, a 1 KiB file, ab -n $CN -c 1 (no keep-alive), $REPS repetitions" ;;
esac
: >"$W/samples"
i=0
while [ $i -lt "$REPS" ]; do
	for s in $servers; do
		if [ $((i % 2)) -eq 0 ]; then
			run "$s" epoll $i
			run "$s" xpoll $i
		else
			run "$s" xpoll $i
			run "$s" epoll $i
		fi
	done
	i=$((i + 1))
done

# The table, with xpoll-bench's own code (median, spread, paired ratio,
# verdict).
"$REPO/tools/bench/xpoll-bench" --table "$W/samples"
