#!/bin/sh
# Lint of the man pages (man/*.[1-9]): each page goes through
# `groff -man -ww -z` and, where mandoc is installed, `mandoc -Tlint`; any
# output from either (or a non-zero exit) fails the page.  TAP on stdout,
# one result per page, the tools' messages as comments before it; exit 0
# if every page is clean.
#   scripts/man-check.sh        (make man-check; make check runs it on the host)
cd "$(dirname "$0")/.." || exit 1
export LC_ALL=C
n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }

have() { command -v "$1" >/dev/null 2>&1; }
echo "TAP version 13"
have mandoc || echo "# mandoc not installed: groff only"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

for page in man/*.[1-9]; do
	[ -e "$page" ] || continue
	if ! have groff; then
		notok "$page: groff is not installed (scripts/deps.sh installs groff-base)"
		continue
	fi
	: >"$tmp"
	rc=0
	groff -man -ww -z "$page" >>"$tmp" 2>&1 || rc=1
	if have mandoc; then
		mandoc -Tlint "$page" >>"$tmp" 2>&1 || rc=1
	fi
	if [ $rc -eq 0 ] && [ ! -s "$tmp" ]; then
		ok "$page: no warnings"
	else
		sed 's/^/# /' "$tmp"
		notok "$page: $(grep -c . "$tmp") warning line(s), exit $rc"
	fi
done
[ $n -gt 0 ] || notok "no man page found in man/"
echo "1..$n"
echo "$((n - fails)) passed, $fails failed"
[ $fails -eq 0 ]
