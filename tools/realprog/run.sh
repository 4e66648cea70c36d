#!/bin/sh
# Real programs under the xpoll preload: unmodified Debian-packaged epoll
# programs, each driven by its own standard client, with their work checked
# and proof that they used xpoll. Guest side of `make check` (distro kernel,
# xpoll loaded; scripts/guest-check.sh runs it). Prints TAP.
#
#   tools/realprog/run.sh            in a guest with /dev/xpoll
#   XPOLL_REALPROG_HOST=1 tools/realprog/run.sh
#                                    dry run on a host without the module:
#                                    the preload falls back to epoll and the
#                                    "used xpoll" checks are skipped
#
# Programs (tools/realprog/packages.txt lists the packages):
#   nginx (nginx-light), driven by ab (apache2-utils): plain, keep-alive and
#     a large file; "Failed requests: 0", every body byte-checked, the
#     access log counts every request.
#   redis-server, driven by redis-benchmark and redis-cli: benchmark with
#     no error, INCR counter equal to the request count, mass insertion
#     through redis-cli --pipe, a 1 MiB value read back byte for byte.
#   The library's own tests (libtest, epoll-prog under the preload) first,
#   and their 32-bit builds when present (the module's compat_ioctl).
# Proof of xpoll: XPOLL_PRELOAD_REQUIRE=1 (no silent fallback), and in the
# running server an fd whose /proc/<pid>/fd link is /dev/xpoll with items
# ("tfd:" lines) in its /proc/<pid>/fdinfo, and no eventpoll fd at all.
# Everything it writes goes under one mktemp folder in /tmp.

cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
PRE=$REPO/tools/preload/libxpoll-preload.so
W=$(mktemp -d /tmp/xpoll-realprog.XXXXXX)
HOSTRUN=${XPOLL_REALPROG_HOST:-0}
T=${XPOLL_REALPROG_TIMEOUT:-300}
n=0
fails=0
pids=""

echo "TAP version 13"
# Each line says when it finished: TCG guests are slow, keep the steps short.
start=$(date +%s)
took() { echo "[at $(($(date +%s) - start)) s]"; }
ok() { n=$((n + 1)); echo "ok $n - $* $(took)"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $* $(took)"; }
skip() { n=$((n + 1)); echo "ok $n - $* $(took) # SKIP"; }
diag() { sed 's/^/# /' "$@"; }
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

if [ "$HOSTRUN" = 1 ]; then
	PRELOAD_ENV="LD_PRELOAD=$PRE"
else
	PRELOAD_ENV="LD_PRELOAD=$PRE XPOLL_PRELOAD_REQUIRE=1"
fi

if [ ! -f "$PRE" ] || [ ! -x "$REPO/tools/lib/tests/libtest" ]; then
	notok "tools built (make -C tools all tests)"
	echo "1..$n"
	exit 1
fi

# Count a process's descriptors by kind; prints "xpoll_fds items epoll_fds".
# One ls for all the links: every exec costs in a TCG guest.
fd_kinds() {
	xf=0 items=0 ef=0
	ls -l /proc/"$1"/fd/ 2>/dev/null >"$W/fds.$1"
	while read -r _ _ _ _ _ _ _ _ fd _ target; do
		case "$target" in
		/dev/xpoll)
			xf=$((xf + 1))
			i=$(grep -c '^tfd:' /proc/"$1"/fdinfo/"$fd" 2>/dev/null)
			items=$((items + ${i:-0}))
			;;
		*eventpoll*) ef=$((ef + 1)) ;;
		esac
	done <"$W/fds.$1"
	echo "$xf $items $ef"
}

# proof NAME PID...: every given process holds xpoll instances with items
# and no epoll instance.
proof() {
	name=$1
	shift
	if [ "$HOSTRUN" = 1 ]; then
		skip "$name used xpoll (host dry run: no module)"
		return
	fi
	good=1 desc=""
	# No process found is no proof.
	[ $# -ge 1 ] || { good=0; desc=" no process found"; }
	for p in "$@"; do
		set -- $(fd_kinds "$p")
		desc="$desc pid $p: $1 xpoll fds, $2 items, $3 epoll fds;"
		[ "$1" -ge 1 ] && [ "$2" -ge 1 ] && [ "$3" -eq 0 ] || good=0
	done
	if [ $good = 1 ]; then
		ok "$name used xpoll:$desc"
	else
		notok "$name used xpoll:$desc"
	fi
}

# wait_for PID CMD...: retry CMD (quietly, 5 s each) for up to 30 s while
# process PID lives.
wait_for() {
	wpid=$1
	shift
	end=$(($(date +%s) + 30))
	while [ "$(date +%s)" -lt $end ] && kill -0 "$wpid" 2>/dev/null; do
		timeout 5 "$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# ---------------------------------------------------------------- libxpoll
if [ "$HOSTRUN" != 1 ]; then
	timeout "$T" "$REPO/tools/lib/tests/libtest" >"$W/libtest.out" 2>&1
	if grep -q '^[0-9]* passed, 0 failed, 0 skipped' "$W/libtest.out"; then
		ok "libxpoll libtest on /dev/xpoll: $(tail -n 1 "$W/libtest.out")"
	else
		notok "libxpoll libtest on /dev/xpoll"
		grep -v '^ok' "$W/libtest.out" | diag
	fi
	# epoll-prog BITS PRELOAD: an ordinary epoll program under the preload.
	eprog() {
		env XPOLL_PRELOAD_DEBUG=1 LD_PRELOAD="$2" XPOLL_PRELOAD_REQUIRE=1 \
			timeout "$T" "$REPO/tools/preload/tests/epoll-prog$1" \
			>"$W/eprog$1.out" 2>"$W/eprog$1.err"
		rc=$?
		if [ $rc -eq 0 ] && grep -q '^backend: xpoll' "$W/eprog$1.out" &&
			grep -q 'inherited instance fd [0-9]* is xpoll' "$W/eprog$1.out"; then
			ok "epoll-prog$1 under the preload on xpoll: $(tail -n 1 "$W/eprog$1.out")"
		else
			notok "epoll-prog$1 under the preload on xpoll (exit $rc)"
			grep -v '^ok' "$W/eprog$1.out" | diag
			diag "$W/eprog$1.err"
		fi
	}
	eprog "" "$PRE"
	# 32-bit programs (built when gcc-multilib is there): compat_ioctl.
	if [ -x "$REPO/tools/lib/tests/libtest32" ]; then
		timeout "$T" "$REPO/tools/lib/tests/libtest32" >"$W/libtest32.out" 2>&1
		if grep -q '^[0-9]* passed, 0 failed, 0 skipped' "$W/libtest32.out"; then
			ok "32-bit libxpoll libtest (compat ioctls): $(tail -n 1 "$W/libtest32.out")"
		else
			notok "32-bit libxpoll libtest (compat ioctls)"
			grep -v '^ok' "$W/libtest32.out" | diag
		fi
		eprog 32 "$REPO/tools/preload/libxpoll-preload32.so"
		# 64-bit time_t: epoll_pwait2 arrives as __epoll_pwait2_time64
		eprog 32t "$REPO/tools/preload/libxpoll-preload32.so"
	fi
fi

# ---------------------------------------------------------------- nginx
NG=$W/nginx
PORT=18080
mkdir -p "$NG/html" "$NG/tmp"
head -c 6000 /dev/urandom | base64 >"$NG/html/index.html"
head -c 262144 /dev/urandom >"$NG/html/big.bin"
user=""
[ "$(id -u)" -eq 0 ] && user="user root root;"
cat >"$NG/nginx.conf" <<EOF
$user
worker_processes 2;
daemon off;
master_process on;
pid $NG/nginx.pid;
error_log $NG/error.log notice;
events {
	use epoll;
	worker_connections 1024;
}
http {
	types { text/html html; application/octet-stream bin; }
	access_log $NG/access.log;
	client_body_temp_path $NG/tmp/body;
	proxy_temp_path $NG/tmp/proxy;
	fastcgi_temp_path $NG/tmp/fastcgi;
	uwsgi_temp_path $NG/tmp/uwsgi;
	scgi_temp_path $NG/tmp/scgi;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$PORT;
		root $NG/html;
	}
}
EOF

if ! command -v nginx >/dev/null || ! command -v ab >/dev/null; then
	notok "nginx under xpoll preload: nginx or ab missing (see tools/realprog/packages.txt)"
else
	env $PRELOAD_ENV nginx -p "$NG" -e "$NG/error.log" -c "$NG/nginx.conf" \
		>"$NG/stdout" 2>&1 &
	master=$!
	pids="$pids $master"
	if ! wait_for "$master" ab -s 3 -n 1 "http://127.0.0.1:$PORT/index.html"; then
		notok "nginx under xpoll preload: starts and answers"
		diag "$NG/stdout" "$NG/error.log"
	else
		echo "# nginx answers $(took)"
		# nginx's workers, found with shell builtins only (no exec per pid).
		workers=""
		for p in /proc/[0-9]*; do
			# no newline at the end: read "fails" yet fills cmd
			cmd=
			read -r cmd <"$p/cmdline" 2>/dev/null
			case "$cmd" in "nginx: worker"*) workers="$workers ${p#/proc/}" ;; esac
		done
		# ab's own runs: plain, keep-alive, a 256 KiB body (EPOLLOUT).
		for run in "plain:-n 500 -c 50:index.html" \
			"keepalive:-k -n 2000 -c 100:index.html" \
			"large:-n 100 -c 20:big.bin"; do
			what=${run%%:*}
			rest=${run#*:}
			args=${rest%%:*}
			file=${rest#*:}
			want=$(echo "$args" | sed 's/.*-n \([0-9]*\).*/\1/')
			timeout "$T" ab $args "http://127.0.0.1:$PORT/$file" >"$NG/ab.$what" 2>&1
			rc=$?
			size=$(wc -c <"$NG/html/$file")
			if [ $rc -eq 0 ] &&
				grep -q "^Complete requests: *$want\$" "$NG/ab.$what" &&
				grep -q '^Failed requests: *0$' "$NG/ab.$what" &&
				! grep -q 'Non-2xx' "$NG/ab.$what" &&
				grep -q "^Document Length: *$size bytes" "$NG/ab.$what"; then
				rps=$(awk '/^Requests per second/ {print $4}' "$NG/ab.$what")
				ok "nginx under xpoll preload: ab $what ($args): $want complete, 0 failed, $rps req/s"
			else

				notok "nginx under xpoll preload: ab $what ($args) (exit $rc)"
				diag "$NG/ab.$what"
			fi
		done
		# Proof while the server runs, holding its listener and clients.
		proof "nginx workers" $workers
		# Bodies, byte for byte, through another client (busybox wget).
		good=1
		for f in index.html big.bin; do
			timeout 60 busybox wget -q -O "$NG/got.$f" "http://127.0.0.1:$PORT/$f" &&
				cmp -s "$NG/got.$f" "$NG/html/$f" || good=0
		done
		[ $good = 1 ] && ok "nginx under xpoll preload: bodies identical to the files" ||
			notok "nginx under xpoll preload: bodies identical to the files"
		# Every request reached the log with status 200: 500 + 2000 + 100
		# from ab, plus the 2 wget and the readiness probes.
		kill -QUIT "$master"
		wait "$master"
		c_index=$(grep -c '"GET /index.html HTTP/1.[01]" 200 ' "$NG/access.log")
		c_big=$(grep -c '"GET /big.bin HTTP/1.[01]" 200 ' "$NG/access.log")
		other=$(grep -vc '" 200 ' "$NG/access.log")
		if [ "$c_big" -eq 101 ] && [ "$c_index" -ge 2501 ] && [ "$other" -eq 0 ]; then
			ok "nginx under xpoll preload: access log has every request, all 200 ($c_index + $c_big)"
		else
			notok "nginx under xpoll preload: access log: index $c_index (>= 2501), big $c_big (101), non-200 $other"
		fi
		if grep -E '\[(alert|crit|emerg)\]' "$NG/error.log" >"$NG/bad"; then
			notok "nginx under xpoll preload: no alert in the error log"
			diag "$NG/bad"
		else
			ok "nginx under xpoll preload: no alert in the error log, clean shutdown"
		fi
	fi
fi

# ---------------------------------------------------------------- redis
RD=$W/redis
RPORT=16390
mkdir -p "$RD"
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
	notok "redis under xpoll preload: redis-server or redis-benchmark missing"
else
	env $PRELOAD_ENV redis-server --port $RPORT --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$RD" --logfile "$RD/redis.log" \
		--daemonize no >"$RD/stdout" 2>&1 &
	rpid=$!
	pids="$pids $rpid"
	cli() { timeout 60 redis-cli -p $RPORT "$@"; }
	if ! wait_for "$rpid" sh -c "redis-cli -p $RPORT ping | grep -q PONG"; then
		notok "redis under xpoll preload: starts and answers PING"
		diag "$RD/stdout" "$RD/redis.log"
	else
		N=5000
		timeout "$T" redis-benchmark -p $RPORT -q -n $N -c 50 \
			-t set,get,incr,lpush,lpop >"$RD/bench" 2>&1
		rc=$?
		tr '\r' '\n' <"$RD/bench" | grep 'requests per second' >"$RD/bench.lines"
		lines=$(wc -l <"$RD/bench.lines")
		counter=$(cli get 'counter:__rand_int__')
		llen=$(cli llen mylist)
		if [ $rc -eq 0 ] && [ "$lines" -eq 5 ] && ! grep -qi error "$RD/bench" &&
			[ "$counter" = "$N" ] && [ "$llen" = 0 ]; then
			ok "redis under xpoll preload: redis-benchmark set/get/incr/lpush/lpop x $N, 50 clients: INCR counter = $N, list drained ($(awk '{printf "%s%s %s/s", (NR > 1 ? ", " : ""), $1, $2}' "$RD/bench.lines"))"
		else
			notok "redis under xpoll preload: redis-benchmark (exit $rc, $lines results, counter '$counter' want $N, llen '$llen')"
			diag "$RD/bench"
		fi
		# Pipelined clients too (-P 16): many commands per read. The
		# benchmark issues whole batches of 16 until it has issued N, so
		# the server runs ceil(N / 16) * 16 INCRs.
		N2=8000
		want=$((N + (N2 + 15) / 16 * 16))
		timeout "$T" redis-benchmark -p $RPORT -q -n $N2 -c 20 -P 16 -t incr \
			>"$RD/bench2" 2>&1
		rc=$?
		counter=$(cli get 'counter:__rand_int__')
		if [ $rc -eq 0 ] && [ "$counter" = "$want" ]; then
			ok "redis under xpoll preload: pipelined INCR x $N2 (-P 16, 20 clients): counter = $want"
		else
			notok "redis under xpoll preload: pipelined INCR (exit $rc, counter '$counter' want $want)"
			tr '\r' '\n' <"$RD/bench2" | tail -n 3 | diag
		fi
		proof "redis-server" "$rpid"
		# Mass insertion through redis-cli --pipe, then read a sample back.
		i=0
		awk 'BEGIN { for (i = 0; i < 10000; i++) printf "SET key:%d val:%d\r\n", i, i * 7 }' \
			>"$RD/mass"
		timeout "$T" redis-cli -p $RPORT --pipe <"$RD/mass" >"$RD/pipe.out" 2>&1
		v1=$(cli get key:0)
		v2=$(cli get key:9999)
		keys=$(cli --scan --pattern 'key:[0-9]*' | wc -l)
		if grep -q 'errors: 0, replies: 10000' "$RD/pipe.out" &&
			[ "$v1" = "val:0" ] && [ "$v2" = "val:69993" ] && [ "$keys" -eq 10000 ]; then
			ok "redis under xpoll preload: redis-cli --pipe 10000 SETs, 0 errors, all keys back"
		else
			notok "redis under xpoll preload: redis-cli --pipe (v1 '$v1' v2 '$v2' keys $keys)"
			diag "$RD/pipe.out"
		fi
		# A 1 MiB value written and read back byte for byte (large replies
		# go out in several writes: EPOLLOUT on the client socket).
		head -c 786432 /dev/urandom | base64 -w 0 >"$RD/big"
		cli -x set bigvalue <"$RD/big" >/dev/null
		cli --raw get bigvalue | head -c "$(wc -c <"$RD/big")" >"$RD/big.back"
		if cmp -s "$RD/big" "$RD/big.back"; then
			ok "redis under xpoll preload: $(wc -c <"$RD/big")-byte value read back identical"
		else
			notok "redis under xpoll preload: large value read back identical"
		fi
		res=$(cli shutdown nosave 2>&1)
		wait "$rpid"
		rc=$?
		if [ $rc -eq 0 ] && ! grep -qiE 'error|assert|crash' "$RD/redis.log"; then
			ok "redis under xpoll preload: clean shutdown, no error in its log"
		else
			notok "redis under xpoll preload: clean shutdown (exit $rc) $res"
			tail -n 20 "$RD/redis.log" | diag
		fi
	fi
fi

echo "1..$n"
echo "# $((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
