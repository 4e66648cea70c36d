#!/bin/sh
# xpoll-stat against a running server: TAP on stdout, one "ok" per check,
# exit 1 if one failed.  Guest side (xpoll loaded; scripts/guest-check.sh
# runs it in the distro guest, from the repository root):
#
#   scripts/vm --kernel distro -- sh -c 'insmod $XPOLL_KO && sh tools/stat/test.sh'
#
# 1. Usage errors exit 2.
# 2. A fake /proc (XPOLL_STAT_PROC): numbers up to 2^64 - 1 and beyond (these
#    saturate), stats lines and groups it does not know, an fd without an
#    "id:" line, -v's order and its "(N more)", a -p PID that is gone.
# 3. tools/stat/stat-echo -s serves on one xpoll instance (listener, one
#    connection, one user event); its client makes 20 requests and holds the
#    connection.  Then `xpoll-stat --once -p PID` must show one row for the
#    instance with fdinfo's id and counters, non-zero waits and events, 2
#    items and 1 user event, no screen control codes; -v must list the
#    connection (at least 20 reports) first, then the listener and the user
#    event; the scan of all processes must find it; a user who may not read
#    the server's /proc is counted, not failed; refresh mode must show
#    rates while a second client works; after the server is gone,
#    -p PID counts it as not found and exits 0.
# check's CODE is single-quoted on purpose (eval expands it); set -- $(...)
# and $args split on purpose.
# shellcheck disable=SC2016,SC2046,SC2086,SC2317
cd "$(dirname "$0")/../.." || exit 1
STAT=$PWD/tools/stat/xpoll-stat
ECHO=$PWD/tools/stat/stat-echo
W=$(mktemp -d /tmp/xpoll-stat-test.XXXXXX)
n=0 fails=0 pids=""
echo "TAP version 13"
# Each result says when it came: TCG guests are slow.
start=$(date +%s)
took() { echo "[at $(($(date +%s) - start)) s]"; }
ok() { n=$((n + 1)); echo "ok $n - $* $(took)"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $* $(took)"; }
# check DESCRIPTION CODE: ok if the shell code CODE succeeds.
check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }
diag() { sed 's/^/# /' "$@"; }
finish() {
	echo "1..$n"
	echo "# $((n - fails)) passed, $fails failed"
	[ $fails -eq 0 ]
	exit
}
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	exec 3>&- 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# col FILE PID FD NAME: the NAME column of the row of PID's FD in FILE.
col() {
	awk -v pid="$2" -v fd="$3" -v name="$4" '
		$1 == "PID" { for (i = 1; i <= NF; i++) h[$i] = i }
		$1 == pid && $3 == fd && h[name] { print $(h[name]); exit }' "$1"
}
# items FILE: -v's item lines, as "fd 5 REPORTED LAST_MS" or "uev KEY ...".
items() {
	awk '$1 == "fd" || $1 == "uev" { print $1, $2, $5, $6 }' "$1"
}
# item FILE WHAT: REPORTED of -v's item line WHAT ("fd 5", "uev 5eed").
item() {
	items "$1" | awk -v what="$2" '$1 " " $2 == what { print $3; exit }'
}
esc=$(printf '\033')
# wait_line FILE REGEX: up to 30 s for a line of FILE to match.
wait_line() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] || return 1
		sleep 0.1
	done
}

if [ ! -x "$STAT" ] || [ ! -x "$ECHO" ]; then
	notok "tools built (make -C tools)"
	finish
fi

# ---------------------------------------------------------------- usage
for args in "--bogus" "-d 0" "-d x" "-p 0" "-p 12x" "-n 0" "--once extra"; do
	"$STAT" $args >/dev/null 2>&1
	rc=$?
	check "xpoll-stat $args: exit 2 (got $rc)" '[ $rc -eq 2 ]'
done

# ---------------------------------------------------------------- fake /proc
F=$W/proc
mkdir -p "$F/4242/fd" "$F/4242/fdinfo"
echo "fake srv" >"$F/4242/comm"
ln -s /dev/xpoll "$F/4242/fd/7"
ln -s /dev/xpoll "$F/4242/fd/8"
ln -s /dev/xpoll "$F/4242/fd/9"
ln -s "socket:[123]" "$F/4242/fd/3"
max=18446744073709551615
cat >"$F/4242/fdinfo/7" <<EOF
pos:	0
flags:	02
mnt_id:	15
ino:	123
id: $max
stats ctl: add $max del 5 mod 0 trigger 0 clear 0 other 0
stats ctl_errors: add 0 del 0 mod 0 trigger 0 clear 0 other 99999999999999999999999
stats wait: waits 12 slept 3 wakeups 3 future 77 spurious 1
stats events: events 40 lt 20 et 10 oneshot 10 requeues 4
stats callbacks: callbacks 50 ovf 1 ready_max 6
stats newgroup: waits 1000
a line from a later module: 5
tfd:        5 events:       19 data:                5  pos:0 ino:1f2a sdev:8 reported: 4294967295 last_ms: 12
tfd:        6 events: 80000019 data: ffffffffffffffff  pos:0 ino:1f2b sdev:8 reported: 0 last_ms: -1
uev:             5eed events:    80001 data:             5eed pending: 0 reported: 3 last_ms: 4294967295
ring: entries: 1024 tail: 5 head: 5 overflow: 0
EOF
# An instance with 12 items: -v lists 10.
echo "id: 2" >"$F/4242/fdinfo/8"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	echo "tfd: $((i + 100)) events: 1 data: $i  pos:0 ino:1 sdev:8 reported: $i last_ms: 1"
done >>"$F/4242/fdinfo/8"
# Not an instance (no "id:" line): left out.
printf 'pos:\t0\nflags:\t02\n' >"$F/4242/fdinfo/9"
XPOLL_STAT_PROC=$F "$STAT" --once -v -p 4242 -p 4243 >"$W/fake.out" 2>&1
rc=$?
check "fake /proc: exit 0" '[ $rc -eq 0 ]'
row="$(col "$W/fake.out" 4242 7 ID) $(col "$W/fake.out" 4242 7 CTL) $(col "$W/fake.out" 4242 7 CTLERR)"
check "fake /proc: id and ctl counters of 2^64 - 1 and beyond, saturated ($row)" \
	'[ "$row" = "$max $max $max" ]'
row="$(col "$W/fake.out" 4242 7 WAITS) $(col "$W/fake.out" 4242 7 SPUR) $(col "$W/fake.out" 4242 7 ITEMS) $(col "$W/fake.out" 4242 7 UEV) $(col "$W/fake.out" 4242 7 RING) $(col "$W/fake.out" 4242 7 READYMAX)"
check "fake /proc: unknown lines and counters ignored, items, uev, ring ($row)" \
	'[ "$row" = "12 1 2 1 1024 6" ]'
check "fake /proc: fd without an id line and the socket left out" \
	'[ "$(grep -c "^4242 " "$W/fake.out")" -eq 2 ]'
check "fake /proc: -v lists the most reported first, uev key in hex, never as -" \
	'[ "$(items "$W/fake.out" | head -n 3 | tr "\n" ";")" = "fd 5 4294967295 12;uev 5eed 3 4294967295;fd 6 0 -;" ]'
check "fake /proc: -v lists 10 of 12 items, then (2 more)" \
	'[ "$(items "$W/fake.out" | grep -c "^fd 1[01][0-9] ")" -eq 10 ] && [ "$(item "$W/fake.out" "fd 112")" = 12 ] &&
	 [ -z "$(item "$W/fake.out" "fd 102")" ] && grep -q "(2 more)" "$W/fake.out"'
check "fake /proc: a -p PID that is gone is counted" 'grep -q "not found: 1\$" "$W/fake.out"'
[ $fails -eq 0 ] || diag "$W/fake.out"

# ---------------------------------------------------------------- a server
if [ ! -c /dev/xpoll ]; then
	notok "/dev/xpoll exists (load the module: insmod \$XPOLL_KO)"
	finish
fi
"$ECHO" -s >"$W/srv.out" 2>&1 </dev/null &
spid=$!
pids="$pids $spid"
if ! wait_line "$W/srv.out" '^port '; then
	notok "stat-echo server started"
	diag "$W/srv.out"
	finish
fi
set -- $(cat "$W/srv.out")
port=$2 xpfd=$4 lfd=$6
ok "stat-echo server started: pid $spid, port $port, xpoll fd $xpfd, listener fd $lfd"
mkfifo "$W/hold"
"$ECHO" -c "$port" -n 20 <"$W/hold" >"$W/cli.out" 2>&1 &
pids="$pids $!"
exec 3>"$W/hold"
check "client: 20 requests echoed" 'wait_line "$W/cli.out" "^done 20\$"'

# The server is now asleep in its wait: its counters stay put.  Compare
# with fdinfo read before and after (once more if they moved; the item
# lines' last_ms always moves).
fdinfo=/proc/$spid/fdinfo/$xpfd
for _ in 1 2 3; do
	sed 's/last_ms: .*//' "$fdinfo" >"$W/fdinfo.before"
	"$STAT" --once -p "$spid" >"$W/once.out" 2>&1
	rc=$?
	sed 's/last_ms: .*//' "$fdinfo" >"$W/fdinfo.after"
	cmp -s "$W/fdinfo.before" "$W/fdinfo.after" && break
	sleep 1
done
check "xpoll-stat --once -p $spid: exit 0" '[ $rc -eq 0 ]'
diag "$W/once.out"
check "--once prints no screen control codes" \
	'[ "$(tr -d "\n[:print:]" <"$W/once.out" | wc -c)" -eq 0 ]'
id=$(sed -n 's/^id: //p' "$W/fdinfo.after")
check "one row for pid $spid fd $xpfd, ID $(col "$W/once.out" "$spid" "$xpfd" ID) = fdinfo's id: $id" \
	'[ -n "$id" ] && [ "$(col "$W/once.out" "$spid" "$xpfd" ID)" = "$id" ] &&
	 [ "$(grep -c "^ *$spid " "$W/once.out")" -eq 1 ]'
waits=$(col "$W/once.out" "$spid" "$xpfd" WAITS)
events=$(col "$W/once.out" "$spid" "$xpfd" EVENTS)
check "waits $waits not zero, events $events at least 22 (20 requests, an accept, a user event)" \
	'[ "${waits:-0}" -gt 0 ] && [ "${events:-0}" -ge 22 ]'
# fdinfo's own figures: "stats wait: waits W ...", "stats events: events E ...".
fw=$(sed -n 's/^stats wait: waits \([0-9]*\) .*/\1/p' "$W/fdinfo.after")
fe=$(sed -n 's/^stats events: events \([0-9]*\) .*/\1/p' "$W/fdinfo.after")
fc=$(sed -n 's/^stats ctl: //p' "$W/fdinfo.after" | awk '{ print $2 + $4 + $6 + $8 + $10 + $12 }')
check "waits, events, ctl as fdinfo's ($waits $events $(col "$W/once.out" "$spid" "$xpfd" CTL); fdinfo $fw $fe $fc)" \
	'[ "$waits" = "$fw" ] && [ "$events" = "$fe" ] && [ "$(col "$W/once.out" "$spid" "$xpfd" CTL)" = "$fc" ]'
row="$(col "$W/once.out" "$spid" "$xpfd" ITEMS) $(col "$W/once.out" "$spid" "$xpfd" UEV) $(col "$W/once.out" "$spid" "$xpfd" RING)"
check "items, user events, ring: $row (fdinfo: $(grep -c '^tfd:' "$W/fdinfo.after") tfd lines)" \
	'[ "$row" = "2 1 -" ]'

"$STAT" --once -v -p "$spid" >"$W/v.out" 2>&1
diag "$W/v.out"
set -- $(items "$W/v.out" | head -n 1)
kind=$1 fd=$2 reported=$3
check "-v: the connection first ($kind $fd, reported $reported)" \
	'[ "$kind" = fd ] && [ "$fd" != "$lfd" ] && [ "${reported:-0}" -ge 20 ]'
check "-v: the listener (fd $lfd) reported $(item "$W/v.out" "fd $lfd"), the user event $(item "$W/v.out" "uev 5eed")" \
	'[ "$(item "$W/v.out" "fd $lfd")" -ge 1 ] && [ "$(item "$W/v.out" "uev 5eed")" -ge 1 ]'

"$STAT" --once >"$W/all.out" 2>&1
check "xpoll-stat --once (all processes) lists it" \
	'[ "$(col "$W/all.out" "$spid" "$xpfd" ID)" = "$id" ]'

if command -v setpriv >/dev/null; then
	cp "$STAT" "$W/xpoll-stat" && chmod 755 "$W" "$W/xpoll-stat"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$W/xpoll-stat" --once \
		>"$W/nobody.out" 2>&1
	rc=$?
	unread=$(sed -n 's/.*not readable: \([0-9]*\).*/\1/p' "$W/nobody.out")
	check "as uid 65534: exit $rc, root's processes not readable: $unread, not listed" \
		'[ $rc -eq 0 ] && [ "${unread:-0}" -ge 1 ] && [ -z "$(col "$W/nobody.out" "$spid" "$xpfd" ID)" ]'
else
	n=$((n + 1))
	echo "ok $n - as another user # SKIP setpriv not installed"
fi

# Refresh mode: 3 screens 0.5 s apart while a second client works all
# along (it would take hours to finish; it is killed after).
"$ECHO" -c "$port" -n 100000000 </dev/null >"$W/cli2.out" 2>&1 &
cpid=$!
pids="$pids $cpid"
# Its connection is in: a third item.
i=0
while [ "$(grep -c '^tfd:' "$fdinfo")" -lt 3 ] && [ $i -lt 300 ]; do
	i=$((i + 1))
	sleep 0.1
done
"$STAT" -p "$spid" -d 0.5 -n 3 >"$W/top.out" 2>&1
rc=$?
kill "$cpid"
sed "s/$esc/ESC/g" "$W/top.out" | diag
check "refresh mode: exit 0, 3 screens, each cleared" \
	'[ $rc -eq 0 ] && [ "$(grep -c "$esc\[H$esc\[2J" "$W/top.out")" -eq 3 ]'
rates=$(awk -v pid="$spid" -v fd="$xpfd" '
	$1 == "PID" { for (i = 1; i <= NF; i++) h[$i] = i }
	$1 == pid && $3 == fd { print $(h["EVENTS"]) }' "$W/top.out" | tr '\n' ' ')
check "refresh mode: events per second ($rates) not all 0" \
	'echo "$rates" | tr " " "\n" | grep -q "^[0-9.]*[1-9][0-9.]*\$"'

exec 3>&-
kill "$spid"
wait "$spid" 2>/dev/null
"$STAT" --once -p "$spid" >"$W/gone.out" 2>&1
rc=$?
check "after the server exits: exit $rc, not found: 1, no row" \
	'[ $rc -eq 0 ] && grep -q "not found: 1\$" "$W/gone.out" && ! grep -q "^ *$spid " "$W/gone.out"'
finish
