#!/usr/bin/env python3
"""Parse the output of `redis-benchmark -q` (progress lines separated by \\r).

    rbparse.py FILE
prints one line per test, tab separated:
    test  rps  stall_ticks  longest_stall_ticks
where a stall tick is a progress report (redis-benchmark prints one every
250 ms) that shows rps=0.0 after the run had started (overall rps > 0), i.e.
a quarter second in which no reply at all came back. Exit status 1 when the
output has no final result line for some test that shows progress.

    rbparse.py --errors FILE
prints the lines that report errors (ERR / error / Error), exit 1 if any.
"""
import re
import sys

FINAL = re.compile(r"^\s*(.+?): ([0-9.]+) requests per second")
PROGRESS = re.compile(r"^\s*(.+?): rps=([0-9.]+|-?nan) \(overall: ([0-9.]+|-?nan)\)")
ERROR = re.compile(r"ERR|[Ee]rror")


def lines(path):
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    for ln in re.split(r"[\r\n]+", data):
        ln = ln.strip()
        if ln:
            yield ln


def entry(tests, order, name):
    """The record of one redis-benchmark test, created on first sight."""
    if name not in tests:
        order.append(name)
    return tests.setdefault(name, {"rps": None, "stalls": 0, "longest": 0, "run": 0})


def parse(path):
    tests = {}   # name -> dict(rps, stalls, longest)
    order = []
    for ln in lines(path):
        m = FINAL.match(ln)
        if m:
            t = entry(tests, order, m.group(1))
            t["rps"] = float(m.group(2))
            continue
        m = PROGRESS.match(ln)
        if m:
            t = entry(tests, order, m.group(1))
            inst, overall = m.group(2), m.group(3)
            started = "nan" not in overall and float(overall) > 0
            if started and "nan" not in inst and float(inst) == 0.0:
                t["stalls"] += 1
                t["run"] += 1
                t["longest"] = max(t["longest"], t["run"])
            else:
                t["run"] = 0
    return order, tests


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--errors":
        bad = [ln for ln in lines(sys.argv[2]) if ERROR.search(ln)]
        for ln in bad:
            print(ln)
        sys.exit(1 if bad else 0)
    order, tests = parse(sys.argv[1])
    ok = True
    for name in order:
        t = tests[name]
        if t["rps"] is None:
            ok = False
        print("%s\t%s\t%d\t%d" % (name, "nan" if t["rps"] is None else "%.2f" % t["rps"],
                                  t["stalls"], t["longest"]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
