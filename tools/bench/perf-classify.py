#!/usr/bin/python3
"""Where each thread's time went, by call: perf samples with call chains
classed by the user function that was running, or by the libc function
(the system call) the sample was taken in; and the share of samples with
given kernel functions anywhere in their stack.

    perf script -F comm,tid,ip,sym -i perf.data | tools/bench/perf-classify.py
    tools/bench/perf-classify.py FILE[.gz] ...

"call: epoll_wait" is time inside epoll_wait(), the system call and all it
ran (a wakeup's softirq included); "user: xpoll_ring_harvest" is time in
that function itself.  Threads are told apart by name (the ringhttp server
thread is "ringhttp-srv").  profile.sh writes this for every profile.
"""
import collections
import gzip
import sys

MARK = ["schedule", "xpoll_sysctl_refresh", "fsnotify", "xpoll_target_close.isra.0",
        "eventpoll_release_file", "xpoll_ring_post", "ep_poll_callback", "handle_softirqs",
        "tcp_sendmsg", "tcp_recvmsg", "eventfd_write", "xpoll_busy_loop", "xpoll_item_orphan",
        "xpoll_fsn_handle_event", "__fput", "xpoll_ctl_one", "ep_insert", "do_epoll_ctl",
        "do_epoll_wait", "xpoll_wait_sink", "xpoll_reap_closed", "task_work_run",
        "xpoll_ioc_wait", "xpoll_busy_add"]


def samples(f):
    comm, frames = None, []
    for line in f:
        line = line.rstrip("\n")
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif comm is None or not line[0].isspace():
            comm, frames = line.split()[0], []
        else:
            p = line.strip().split(None, 1)
            frames.append((p[0], p[1] if len(p) > 1 else "?"))
    if comm is not None:
        yield comm, frames


def category(frames):
    for i, (ip, sym) in enumerate(frames):
        if not ip.startswith("ffffffff"):	# the first user frame
            return ("user: " if i == 0 else "call: ") + sym
    return "kernel: " + (frames[-1][1] if frames else "?")


def report(name, f):
    per = collections.defaultdict(collections.Counter)
    marks = collections.defaultdict(collections.Counter)
    tot = collections.Counter()
    for comm, frames in samples(f):
        per[comm][category(frames)] += 1
        tot[comm] += 1
        syms = {s for _, s in frames}
        for m in MARK:
            if m in syms:
                marks[comm][m] += 1
    print("==", name)
    for comm in sorted(tot, key=lambda c: -tot[c]):
        n = tot[comm]
        if n < 50:
            continue
        print(f"  {comm}: {n} samples")
        for c, k in per[comm].most_common(12):
            if 100 * k / n >= 0.5:
                print(f"    {100 * k / n:5.1f}%  {c}")
        print("    in chain: " + ", ".join(f"{m} {100 * k / n:.1f}%"
                                            for m, k in marks[comm].most_common()
                                            if 100 * k / n >= 0.3))


def main():
    paths = sys.argv[1:] or ["-"]
    for p in paths:
        if p == "-":
            report("stdin", sys.stdin)
        else:
            with (gzip.open(p, "rt", errors="replace") if p.endswith(".gz")
                  else open(p, errors="replace")) as f:
                report(p, f)


main()
