#!/bin/sh
# Host test of scripts/summarize.py's counting: no suite may vanish from
# the summary. A TAP file with no results (a crash before the plan, a
# program that never ran) is a failure; a whole-suite skip plan is one
# skip; missing planned results are failures; a clean file passes. TAP out.
cd "$(dirname "$0")/../.." || exit 1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
n=0 fails=0
check() { # description, expected last line, then the files: name=content
	d=$1 want=$2
	shift 2
	rm -rf "$t/r" && mkdir "$t/r"
	for f in "$@"; do printf '%b' "${f#*=}" >"$t/r/${f%%=*}.tap"; done
	got=$(python3 scripts/summarize.py "$t/r" 2>&1 | tail -n 1)
	n=$((n + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $n - $d"
	else
		fails=$((fails + 1))
		echo "not ok $n - $d (got: $got)"
	fi
}
echo "TAP version 13"
check "a clean file passes" "2 passed, 0 failed, 0 skipped" \
	"a=TAP version 13\n1..2\nok 1 x\nok 2 y\n"
check "an empty file is a failure" "1 passed, 1 failed, 0 skipped" \
	"a=TAP version 13\n1..1\nok 1 x\n" "b="
check "a file with no results is a failure" "0 passed, 1 failed, 0 skipped" \
	"a=sh: selftests/x: not found\n"
check "a whole-suite skip is one skip" "0 passed, 0 failed, 1 skipped" \
	"a=1..0 # SKIP no failslab\n"
check "missing planned results are failures" "1 passed, 1 failed, 0 skipped" \
	"a=TAP version 13\n1..3\nok 1 x\n"
echo "1..$n"
echo "$((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
