#!/usr/bin/python3
"""Draw xpoll-bench results as PNG charts.

    tools/bench/plot.py RESULTS.csv [OUTDIR]

One chart per workload and metric: the median of the repetitions for epoll
and xpoll side by side, with the min..max range as error bars, on a log
scale when the values span more than two decades; and one chart of every
row's ratio xpoll/epoll. Needs python3-matplotlib (tools/bench/packages.txt).
"""

import csv
import os
import statistics
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    rows = OrderedDict()
    for r in csv.DictReader(open(path)):
        key = (r["workload"], r["metric"])
        rows.setdefault(key, OrderedDict()).setdefault(r["params"], {}).setdefault(
            r["backend"], []).append(float(r["value"]))
    return rows


def chart(key, params, outdir):
    workload, metric = key
    labels = list(params)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(labels) + 2), 4.5))
    width = 0.4
    lo_hi = []
    for i, be in enumerate(("epoll", "xpoll")):
        med, err_lo, err_hi = [], [], []
        for p in labels:
            v = params[p].get(be, [0])
            m = statistics.median(v)
            med.append(m)
            err_lo.append(m - min(v))
            err_hi.append(max(v) - m)
            lo_hi += [x for x in v if x > 0]
        xs = [j + (i - 0.5) * width for j in range(len(labels))]
        ax.bar(xs, med, width, yerr=[err_lo, err_hi], capsize=3, label=be)
    if lo_hi and max(lo_hi) / max(min(lo_hi), 1e-12) > 100:
        ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(f"{workload}: {metric} (median of repetitions, bars min..max)")
    ax.legend()
    fig.tight_layout()
    name = f"{workload}-{metric.replace('/', '_per_')}.png"
    fig.savefig(os.path.join(outdir, name), dpi=100)
    plt.close(fig)
    return name


def ratios(rows, outdir):
    labels, vals = [], []
    for (workload, metric), params in rows.items():
        for p, by in params.items():
            # Sample k of each interface comes from the same repetition
            # (xpoll-bench measures them as a pair): median of the pairs.
            pairs = [x / e for e, x in zip(by.get("epoll", []), by.get("xpoll", [])) if e]
            if pairs:
                labels.append(f"{workload} {p} {metric}")
                vals.append(statistics.median(pairs))
    fig, ax = plt.subplots(figsize=(8, max(4, 0.22 * len(labels) + 1)))
    ax.barh(range(len(labels)), vals)
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("xpoll/epoll, median of paired repetitions\n"
                  "(>1 better for rates; <1 better for latency, wakeups, memory, ms/request)")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "ratios.png"), dpi=100)
    plt.close(fig)
    return "ratios.png"


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    outdir = argv[2] if len(argv) > 2 else os.path.dirname(os.path.abspath(argv[1]))
    os.makedirs(outdir, exist_ok=True)
    rows = load(argv[1])
    made = [chart(k, p, outdir) for k, p in rows.items()]
    made.append(ratios(rows, outdir))
    for m in made:
        print(os.path.join(outdir, m))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
