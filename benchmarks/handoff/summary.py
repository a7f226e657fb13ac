#!/usr/bin/env python3
"""summary.py RUN.csv: medians per design and worker count of a run.sh run,
and, per round, each design's CPU per request and req/s as a ratio to
"today" of the same round and worker count (the machine is shared: a ratio
within a round is steadier than a number across rounds)."""
import collections
import statistics as st
import sys

rows = []
for line in open(sys.argv[1]):
    p = line.strip().split(",")
    if len(p) != 9 or not p[0].isdigit():
        continue  # the header, or a stray line
    rows.append((int(p[0]), p[1], int(p[2]), float(p[5]), float(p[6]), float(p[7]), float(p[8])))
by = collections.defaultdict(list)
for r in rows:
    by[(r[1], r[2])].append(r)
today = {(r[0], r[2]): r for r in rows if r[1] == "today"}
print("| design | -w | rounds | req/s (median) | CPU µs/req (median) | CPU vs today | req/s vs today | Go allocs/req | Go bytes/req |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (d, w), rs in sorted(by.items(), key=lambda x: (x[0][1], x[0][0])):
    cpu = [r[4] / today[(r[0], w)][4] for r in rs if (r[0], w) in today]
    rps = [r[3] / today[(r[0], w)][3] for r in rs if (r[0], w) in today]
    allocs = "—" if rs[0][5] < 0 else f"{rs[0][5]:.1f}"
    nbytes = "—" if rs[0][6] < 0 else f"{rs[0][6]:.0f}"
    print(f"| {d} | {w} | {len(rs)} | {st.median(r[3] for r in rs):,.0f} | {st.median(r[4] for r in rs):.1f} "
          f"| {st.median(cpu):.2f}× | {st.median(rps):.2f}× | {allocs} | {nbytes} |")
