#!/bin/sh
# The guest half of `make check`; scripts/vm runs it as root from the
# repository root: load xpoll, run every suite for this kernel, unload,
# and (debug kernel) scan for leaks. Each suite's TAP goes to its own file
# in $XPOLL_OUT/results/<kernel>/; this script's own steps go to
# guest.<kernel>.tap. scripts/summarize.py reads them on the host.
#
#   sh scripts/guest-check.sh debug|distro [SUITE...]
#
# With SUITE names (test binary names, kunit, reliability, realprog,
# xpoll-stat) only those run.
kind=$1
shift
only=" $* "
res=$XPOLL_OUT/results/$kind
rm -rf "$res"
mkdir -p "$res"
tap=$res/guest.$kind.tap
n=0
ok() { n=$((n + 1)); echo "ok $n $*" >>"$tap"; echo "ok $n $*"; }
notok() { n=$((n + 1)); echo "not ok $n $*" >>"$tap"; echo "not ok $n $*"; }
wanted() {
	[ "$only" = "  " ] && return 0
	case "$only" in *" $1 "*) return 0 ;; esac
	return 1
}
kmemleak=/sys/kernel/debug/kmemleak

echo "TAP version 13" >"$tap"
if insmod "$XPOLL_KO"; then
	ok "insmod xpoll ($kind kernel $(uname -r))"
else
	notok "insmod xpoll ($kind kernel $(uname -r))"
	echo "1..$n" >>"$tap"
	exit 1
fi
[ -c /dev/xpoll ] && ok "/dev/xpoll exists" || notok "/dev/xpoll exists"
[ -w $kmemleak ] && echo clear >$kmemleak

if [ "$kind" = debug ] && wanted kunit; then
	# KUnit runs at module load and prints KTAP to the kernel log.
	dmesg -c >/dev/null
	if insmod "$XPOLL_KUNIT_KO"; then
		ok "insmod xpoll_kunit"
		rmmod xpoll_kunit && ok "rmmod xpoll_kunit" || notok "rmmod xpoll_kunit"
	else
		notok "insmod xpoll_kunit"
	fi
	dmesg >"$res/xpoll.kunit.log"
fi

# kselftests: every executable that selftests/Makefile built. An empty
# list is a failure: suites must not vanish silently.
tests=$(make -s -C selftests list 2>/dev/null)
[ -n "$tests" ] || notok "selftests/Makefile lists kselftests"
for t in $tests; do
	name=$(basename "$t")
	wanted "$name" || continue
	echo "== kselftest $name ($kind)"
	t0=$(date +%s)
	timeout 900 "selftests/$t" >"$res/$name.$kind.tap" 2>&1
	rc=$?
	tail -n 3 "$res/$name.$kind.tap"
	# Where make check's time goes (issue 2's target): per suite.
	echo "== kselftest $name ($kind): $(($(date +%s) - t0)) s"
	# 0 passed, 1 failed (counted per test), 4 all skipped; anything else
	# (126/127: could not run, a signal) would leave its TAP short.
	case $rc in
	0 | 1 | 4) ;;
	124) notok "$name finished within 900 s" ;;
	*) notok "$name exited $rc" ;;
	esac
done

if [ "$kind" = debug ] && [ -x selftests/reliability/run.sh ] && wanted reliability; then
	echo "== reliability ($kind)"
	selftests/reliability/run.sh "$res" >"$res/reliability.$kind.log" 2>&1
	rc=$?
	tail -n 5 "$res/reliability.$kind.log"
	# 1: a program failed (its TAP says which); 2: none could run.
	[ $rc -le 1 ] || notok "reliability programs ran (run.sh exit $rc)"
fi

if [ "$kind" = distro ] && [ -x tools/realprog/run.sh ] && wanted realprog; then
	echo "== real programs under the preload ($kind)"
	tools/realprog/run.sh >"$res/realprog.$kind.tap" 2>&1
	tail -n 5 "$res/realprog.$kind.tap"
fi

# xpoll-stat against a running server (tools/stat/test.sh).
if [ "$kind" = distro ] && [ -f tools/stat/test.sh ] && wanted xpoll-stat; then
	echo "== xpoll-stat ($kind)"
	timeout 300 sh tools/stat/test.sh >"$res/xpoll-stat.$kind.tap" 2>&1
	rc=$?
	tail -n 3 "$res/xpoll-stat.$kind.tap"
	# 0 passed, 1 a check failed (its TAP says which).
	[ $rc -le 1 ] || notok "xpoll-stat test finished (exit $rc)"
fi

# Every instance is closed now: the module must unload.
if rmmod xpoll; then
	ok "rmmod xpoll after the suites"
else
	notok "rmmod xpoll after the suites"
	lsmod | grep xpoll
fi

if [ -w $kmemleak ]; then
	echo scan >$kmemleak
	echo scan >$kmemleak
	cat $kmemleak >"$res/kmemleak.txt"
	if [ -s "$res/kmemleak.txt" ]; then
		notok "kmemleak: no leak after the suites"
		# To the console too, where scripts/vm sees it as a splat.
		head -n 60 "$res/kmemleak.txt" >/dev/kmsg
	else
		ok "kmemleak: no leak after the suites"
	fi
fi
echo "1..$n" >>"$tap"
grep -q "^not ok" "$res"/*.tap && exit 1
exit 0
