#!/usr/bin/env python3
"""Read every result a `make check` run left and print one table per suite.

    scripts/summarize.py [--expect-fail] RESULTS_DIR...

Inputs, by file name in each RESULTS_DIR:
  *.kunit.log  a guest's kernel log; KUnit's KTAP in it is parsed by the
               kernel's own parser, tools/testing/kunit/kunit.py parse.
  *.tap        TAP from kselftests and from the check script's own steps
               (one file per suite; the file name is the suite name).

A TAP stream whose plan (1..N) promises more results than it printed
counts the missing ones as failed: a test binary that crashed half-way
must not look green.

The last line is `N passed, N failed, N skipped`; the exit status is 1 if
anything failed (or, with --expect-fail, 1 if nothing failed).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RESULT = re.compile(r"^(not ok|ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$")
PLAN = re.compile(r"^1\.\.(\d+)")


def kunit_py():
    ksft = subprocess.run([os.path.join(HERE, "kernel.sh"), "ksft"], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()
    return os.path.normpath(os.path.join(ksft, "..", "kunit", "kunit.py"))


def parse_kunit(path):
    """[(suite, test, status)] from a kernel log, via kunit.py parse --json.

    A kernel with KUnit built in prints an empty run at boot (`KTAP version
    1`, `1..0`); the suites of a module loaded later follow without a header
    of their own. kunit.py stops at the first plan, so the log is cut after
    that empty run.
    """
    with open(path, errors="replace") as f:
        lines = f.read().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if re.search(r"\]\s1\.\.0$|^1\.\.0$", line.rstrip()):
            lines = lines[i + 1:]
            break
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "kernel.log")
        js = os.path.join(tmp, "kunit.json")
        with open(log, "w") as f:
            f.writelines(lines)
        p = subprocess.run([sys.executable, kunit_py(), "parse", f"--json={js}", log],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            with open(js) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return [("kunit", os.path.basename(path) + ": kunit.py could not parse it", "FAIL")], p.stdout
    out = []

    def walk(group, suite):
        for case in group.get("test_cases", []):
            out.append((suite, case["name"], case["status"]))
        for sub in group.get("sub_groups", []):
            walk(sub, sub.get("name", suite))

    walk(data, "kunit")
    if not out:
        out.append(("kunit", "no KUnit results in " + os.path.basename(path), "FAIL"))
    return out, p.stdout


def parse_tap(path, suite):
    """[(suite, test, status)] from TAP; missing planned results are failures.

    A file may hold several TAP streams (one per test binary): each
    'TAP version' line starts a new plan.
    """
    out = []
    planned = seen = 0
    skip_all = None     # the reason of a "1..0 # SKIP reason" plan

    def close_plan():
        if planned > seen:
            out.append((suite, f"{planned - seen} planned test(s) never reported (crash?)", "FAIL"))

    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("TAP version"):
            close_plan()
            planned = seen = 0
            continue
        m = PLAN.match(line)
        if m:
            planned += int(m.group(1))
            if int(m.group(1)) == 0:
                skip_all = line.partition("#")[2].strip() or "empty plan"
            continue
        m = RESULT.match(line)
        if not m:
            continue
        seen += 1
        ok, _, name, directive = m.groups()
        directive = (directive or "").upper()
        if directive.startswith("SKIP"):
            status = "SKIP"
        elif ok == "ok" or directive.startswith(("XFAIL", "TODO")):
            status = "PASS"
        else:
            status = "FAIL"
        out.append((suite, name or f"test {m.group(2)}", status))
    close_plan()
    # A suite must never vanish from the table: a whole-suite skip counts
    # as one skip, and a file with no results at all (a crash before the
    # plan, a program that never ran) as a failure.
    if not out:
        if skip_all is not None:
            out.append((suite, "whole suite skipped: " + skip_all, "SKIP"))
        else:
            out.append((suite, "no TAP results (crashed, or never ran?)", "FAIL"))
    return out


def reasons(paths, limit=30):
    """The lines that say why: a failed KUnit expectation and the lines after
    it, and the diagnostics a TAP file printed just before a `not ok`. CI
    shows only the end of make check's output, so they are printed there."""
    out = []
    for path in paths:
        with open(path, errors="replace") as f:
            lines = [re.sub(r"^\[\s*[0-9.]+\]\s?", "", l.rstrip()) for l in f]
        for i, line in enumerate(lines):
            if re.search(r"(EXPECTATION|ASSERTION) FAILED", line):
                out += [os.path.basename(path) + ": " + l.strip() for l in lines[i:i + 4]]
            elif path.endswith(".tap") and re.match(r"\s*not ok ", line):
                ctx = [l for l in lines[max(0, i - 4):i] if l.lstrip().startswith("#")]
                out += [os.path.basename(path) + ": " + l.strip() for l in ctx + [line]]
    return out[:limit]


def main(argv):
    expect_fail = "--expect-fail" in argv
    dirs = [a for a in argv if not a.startswith("--")]
    results = []
    bad_files = []
    for d in dirs:
        for f in sorted(os.listdir(d)):
            path = os.path.join(d, f)
            if f.endswith(".kunit.log"):
                res, _ = parse_kunit(path)
                if any(st not in ("PASS", "SKIP", "NO_TESTS") for _, _, st in res):
                    bad_files.append(path)
                tag = f[: -len(".kunit.log")]
                results += [(f"{s} [{tag}]", t, st) for s, t, st in res]
            elif f.endswith(".tap"):
                res = parse_tap(path, f[: -len(".tap")])
                if any(st == "FAIL" for _, _, st in res):
                    bad_files.append(path)
                results += res

    suites = {}
    for suite, test, status in results:
        suites.setdefault(suite, []).append((test, status))
    total = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    width = max([len(s) for s in suites] + [5])
    print(f"\n{'suite':<{width}}  passed  failed  skipped")
    print("-" * (width + 26))
    failed_names = []
    for suite, tests in suites.items():
        c = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        for test, status in tests:
            key = status if status in c else ("FAIL" if status not in ("NO_TESTS",) else "SKIP")
            c[key] += 1
            if key == "FAIL":
                failed_names.append(f"{suite}: {test}")
        for k in total:
            total[k] += c[k]
        print(f"{suite:<{width}}  {c['PASS']:>6}  {c['FAIL']:>6}  {c['SKIP']:>7}")
    if failed_names:
        print("\nfailed:")
        for n in failed_names:
            print(f"  {n}")
        why = reasons(bad_files)
        if why:
            print("\nwhy (first lines):")
            for line in why:
                print(f"  {line}")
    if not results:
        print("\nno results found: that is a failure")
        total["FAIL"] += 1
    print(f"\n{total['PASS']} passed, {total['FAIL']} failed, {total['SKIP']} skipped")
    bad = total["FAIL"] > 0
    return int(not bad) if expect_fail else int(bad)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
