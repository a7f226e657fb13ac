#!/usr/bin/python3
"""Memory of a process and all its descendants, for benchmarks/run.sh.

    pss.py PID  ->  "procs pss_kib rss_kib main_rss_kib"

PSS (proportional set size, from /proc/PID/smaps_rollup) splits each shared
page among the processes that map it, so the sum over a server and its
worker processes counts the pages they share once; the RSS sum counts them
once per process and is printed for comparison. Descendants are found by
parent pid, so worker processes in process groups or sessions of their own
are counted too. A process that exits while it is read is skipped.
"""

import os
import sys


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after its last ")".
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def rollup(pid):
    """(Pss, Rss) in KiB of one process, or None if it is gone."""
    vals = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("Pss", "Rss"):
                    vals[k] = int(rest.split()[0])
    except (OSError, ValueError):
        return None
    if "Pss" not in vals:
        return None
    return vals["Pss"], vals.get("Rss", 0)


def main():
    root = int(sys.argv[1])
    kids = children_map()
    todo, tree = [root], []
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(kids.get(pid, []))
    procs = pss = rss = 0
    main_rss = None
    for pid in tree:
        r = rollup(pid)
        if r is None:
            if pid == root:
                sys.exit("pss.py: cannot read /proc/%d/smaps_rollup (gone, or not ours: run as root)" % pid)
            continue
        procs += 1
        pss += r[0]
        rss += r[1]
        if pid == root:
            main_rss = r[1]
    print(procs, pss, rss, main_rss)


if __name__ == "__main__":
    main()
