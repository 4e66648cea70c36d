#!/bin/sh
# Host-side check of xpoll-bench's table (--table): medians, spreads, the
# ratio paired repetition by repetition, the verdicts for rates and for
# smaller-is-better metrics, and --columns.  Every figure in the README's
# bench tables goes through this code.  TAP; exit 0 if all passed.
#   tools/bench/tests/table-check.sh      (make check runs it on the host)
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }

# row PARAMS METRIC "epoll samples" "xpoll samples": repetition k of
# both, then k + 1, as xpoll-bench and bench-ab.sh write them.
row() {
	awk -v p="$1" -v m="$2" -v e="$3" -v x="$4" 'BEGIN {
		n = split(e, E, " "); split(x, X, " ")
		for (k = 1; k <= n; k++) {
			printf "t,%s,%s,epoll,%d,%s\n", p, m, k - 1, E[k]
			printf "t,%s,%s,xpoll,%d,%s\n", p, m, k - 1, X[k]
		}
	}'
}

{
	echo workload,params,metric,backend,rep,value
	row win calls/s "100 100 100" "150 120 200"	# pairs 1.5 1.2 2
	row noise calls/s "100 100 100" "50 90 110"	# 0.5 0.9 1.1
	row loss calls/s "100 100 100" "50 60 70"
	row lat p50_us "100 100 100" "80 90 95"		# smaller is better
	row latloss p99_us "100 100 100" "110 120 130"
	row wake wakeups/event "1 1" "2 0.5"		# 2 0.5: median 1.25
	row paired calls/s "100 400" "400 100"		# 4 0.25, not 1 1
	row mem bytes/watch "200 200 200" "160 170 150"
	row ab ms/request "2 2 2" "1.8 1.9 2.2"		# 0.9 0.95 1.1
	row rt roundtrips/s "100 100 100" "120 90 130"	# a rate: 1.2 0.9 1.3
	row cpu cpu_us/event "10 10 10" "12 11 13"	# smaller is better: 1.2 1.1 1.3
	row minwait p99-minwait_us "100 100 100" "90 -20 110"	# 0.9 -0.2 1.1
	echo "t,other,calls/s,bogus,0,1"
} >"$tmp/in.csv"

./xpoll-bench --table "$tmp/in.csv" >"$tmp/out" 2>&1 || notok "xpoll-bench --table ran"
# expect PARAMS "RATIO VERDICT" [EPOLL-MEDIAN SPREAD XPOLL-MEDIAN SPREAD]
expect() {
	line=$(awk -v p="$1" '$2 == p' "$tmp/out")
	got=$(echo "$line" | awk '{ v = $9; for (i = 10; i <= NF; i++) v = v " " $i; print $8, v }')
	if [ "$got" = "$2" ]; then ok "$1: $2"; else notok "$1: want '$2', got '$got'"; fi
	if [ -n "${3:-}" ]; then
		got=$(echo "$line" | awk '{ print $4, $5, $6, $7 }')
		if [ "$got" = "$3" ]; then ok "$1: medians and spreads $3"
		else notok "$1: medians and spreads: want '$3', got '$got'"; fi
	fi
}
expect win "1.500 ok" "100 0.0 150 53.3"
expect noise "0.900 ok (noise)"
expect loss "0.600 LOSS"
expect lat "0.900 ok"
expect latloss "1.200 LOSS"
expect wake "1.250 ok (noise)" "1 0.0 1.25 120.0"
expect paired "2.125 ok"
expect mem "0.800 ok"
expect ab "0.950 ok"
expect rt "1.200 ok"
expect cpu "1.200 LOSS"
expect minwait "0.900 ok"
if grep -q other "$tmp/out"; then notok "a row of another backend is left out"
else ok "a row of another backend is left out"; fi

sed 's/,epoll,/,A,/; s/,xpoll,/,B,/' "$tmp/in.csv" >"$tmp/ab.csv"
./xpoll-bench --table "$tmp/ab.csv" --columns A,B >"$tmp/out" 2>&1
if awk 'NR == 2 && $4 == "A" && $6 == "B" && $8 == "2nd/1st"' "$tmp/out" | grep -q .; then
	ok "--columns: the header names both builds"
else
	notok "--columns: the header names both builds ($(sed -n 2p "$tmp/out"))"
fi
expect win "1.500 ok"
./xpoll-bench --table "$tmp/ab.csv" --columns A >/dev/null 2>&1
if [ $? -eq 2 ]; then ok "--columns without two names is a usage error"
else notok "--columns without two names is a usage error"; fi

echo "1..$n"
echo "$((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
