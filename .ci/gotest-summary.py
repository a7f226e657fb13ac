#!/usr/bin/env python3
"""Reads `go test -json` on stdin and prints what `go test` would (the output
of failed tests and each package's result line) plus a count of passed,
failed and skipped tests per package, sub-tests included. Exits 1 when any
test or package failed, so CI's status is go test's."""
import collections
import json
import sys

output = collections.defaultdict(list)  # (package, test) -> output lines
counts = collections.defaultdict(collections.Counter)  # package -> action -> n
results = []  # package result lines, in order
failed_tests = []
bad = False

for line in sys.stdin:
    try:
        ev = json.loads(line)
    except ValueError:
        print(line, end="")  # a build error or a crash outside the JSON stream
        bad = True
        continue
    pkg, test, action = ev.get("Package", ""), ev.get("Test"), ev.get("Action")
    if action == "output":
        output[(pkg, test)].append(ev["Output"])
    elif action in ("pass", "fail", "skip"):
        if test:
            counts[pkg][action] += 1
            if action == "fail":
                failed_tests.append((pkg, test))
            else:
                output.pop((pkg, test), None)
        else:
            if action == "fail":
                bad = True
                # The package's own output: build errors, a panic, a timeout.
                sys.stdout.write("".join(output.pop((pkg, None), [])))
            results.append("%-4s %s (%.1f s)" % (action, pkg, ev.get("Elapsed", 0)))
    elif action == "build-output":
        print(ev.get("Output", ""), end="")
    elif action == "build-fail":
        bad = True

for pkg, test in failed_tests:
    bad = True
    print("=== FAIL %s %s" % (pkg, test))
    sys.stdout.write("".join(output.get((pkg, test), [])))

print("== results")
for r in results:
    print(r)
print("== tests per package (sub-tests included): pass / fail / skip")
for pkg in sorted(counts):
    c = counts[pkg]
    print("%-45s %5d %5d %5d" % (pkg, c["pass"], c["fail"], c["skip"]))
sys.exit(1 if bad else 0)
