#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the xpoll kselftests (in the guest, as root, xpoll.ko loaded).
#
#   selftests/run.sh                    every test binary, one after another
#   selftests/run.sh BINARY [ARGS...]   one binary, with its own options:
#       -l  list tests   -f FIXTURE   -v VARIANT (epoll|xpoll)   -t TEST
#       (xpoll_diff: --ops N --seed S --self-check -v)
#
# Each binary prints its own TAP, unprefixed.  Exit status: non-zero if
# any binary failed.  XPOLL_DIFF_OPS / XPOLL_DIFF_SEED set xpoll_diff's
# --ops / --seed in the full run.
cd "$(dirname "$0")" || exit 1
if [ $# -gt 0 ]; then
	b=$1
	shift
	exec "./$b" "$@"
fi
list=$(make -s list 2>/dev/null) ||
	list="dev_lifecycle ctl_errors batch callbacks transfer modes literature nesting lifetime limits fdinfo busypoll ctlwait minwait uevent ring stats xpoll_diff"
rc=0
for t in $list; do
	if [ ! -x "./$t" ]; then
		echo "not ok 1 $t # not built"
		rc=1
		continue
	fi
	echo "# ==== $t"
	if [ "$t" = xpoll_diff ]; then
		set -- --ops "${XPOLL_DIFF_OPS:-100000}"
		[ -n "$XPOLL_DIFF_SEED" ] && set -- "$@" --seed "$XPOLL_DIFF_SEED"
		"./$t" "$@" || rc=1
	else
		"./$t" || rc=1
	fi
done
exit $rc
