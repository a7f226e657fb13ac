#!/usr/bin/python3
"""Results writer of benchmarks/run.sh (standard library only).

Reads the per-round rows run.sh measured (raw CSV), the memory rows and the
run's metadata, and writes to --out:

  <date>-python<version>.csv         one row per cell: medians over the rounds
  <date>-python<version>-rounds.csv  every measured run (one row per round and cell)
  <date>-python<version>-memory.csv  PSS (all processes) by worker count
  <date>-python<version>-readme.md   the README's performance block

With --readme PATH, the block between the markers
<!-- bench-compare:begin --> and <!-- bench-compare:end --> in PATH is
replaced by the -readme.md text. With a tag in the metadata, the names are
<date>-<tag>-python<version>...
  <date>-python<version>.md          the tables (also printed on stdout)
  <date>-python<version>.svg         requests/s and p50/p99 latency per cell

Ratios (warmcgi / peer) are taken between cells of the same run: the ratio of
their medians, with the range of the per-round ratios (both servers measured
seconds apart in the same round) beside it.
"""

import argparse
import csv
import html
import math
import os
import statistics
import sys

# How each server is described in the tables.
SERVER_LABELS = {
    "apache-cgi": "Apache mod_cgi (prefork)",
    "nginx-fcgiwrap": "nginx + fcgiwrap",
    "apache-wsgi": "mod_wsgi embedded, native WSGI",
    "go-static": "Go net/http static",
    "nginx-warmcgi-tcp": "nginx → warmcgi FastCGI, TCP",
    "nginx-warmcgi-unix": "nginx → warmcgi FastCGI, Unix socket",
    "nginx-warmcgi-keep": "nginx → warmcgi FastCGI, Unix socket, fastcgi_keep_conn",
    "nginx-uwsgi": "nginx → uWSGI, native WSGI",
}
SET_LABELS = {
    "hello": "hello.py",
    "form": "form POST (cgi.FieldStorage)",
    "cpu": "cpu5ms.py (~5 ms CPU)",
    "out1mb": "out1mb.py (1 MiB body)",
    "hgweb": "hgweb file view (Mercurial)",
    "django": "Django page (djpage.py)",
    "latency": "hello.py, 64 connections",
}
SET_ORDER = ["hello", "form", "cpu", "out1mb", "hgweb", "django", "latency"]
PEER_ORDER = ["apache-cgi", "nginx-fcgiwrap", "apache-wsgi", "go-static", "nginx-warmcgi-tcp", "nginx-warmcgi-unix",
              "nginx-warmcgi-keep", "nginx-uwsgi"]
# Targets of hello.py and of the Django page against Apache mod_cgi, by
# mode: fork's (issue 14) are for exact CGI semantics, a process per request.
HELLO_TARGET = {"fork": 20}
DJANGO_TARGET = 10
# Cores of CPU taken by other work during a cell above which it is flagged,
# and a target judged against it is not judged at all.
NOISY = 0.25
# The least rounds and seconds per cell of a run whose targets are judged.
JUDGE_ROUNDS = 3
JUDGE_DURATION = 5


def server_label(name):
    if name in SERVER_LABELS:
        return SERVER_LABELS[name]
    if name.startswith("warmcgi-"):
        rest = name[len("warmcgi-"):]
        if rest.endswith("-w1"):
            return "warmcgi %s, 1 worker" % rest[:-3]
        return "warmcgi %s" % rest
    return name


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                meta[k] = v
    return meta


def fmt_rps(v):
    if v >= 1000:
        return "{:,.0f}".format(v)
    if v >= 100:
        return "%.0f" % v
    return "%.1f" % v


def fmt_ms(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_ratio(v):
    if v is None:
        return "–"
    if v >= 10:
        return "%.0f×" % v
    if v >= 0.1:
        return "%.2f×" % v
    return "%.2g×" % v  # fork mode against a warm one: 0.0015×, not 0.00×


class Cell:
    """One (set, server) pair over all rounds."""

    def __init__(self, rows):
        r0 = rows[0]
        self.set = r0["set"]
        self.script = r0["script"]
        self.server = r0["server"]
        self.workers = r0["workers"]
        self.conns = int(r0["conns"])
        self.by_round = {int(r["round"]): r for r in rows}
        rps = [float(r["rps"]) for r in rows]
        self.rps = statistics.median(rps)
        self.rps_min, self.rps_max = min(rps), max(rps)
        self.p50 = statistics.median(float(r["p50_us"]) for r in rows) / 1000
        self.p90 = statistics.median(float(r["p90_us"]) for r in rows) / 1000
        self.p99 = statistics.median(float(r["p99_us"]) for r in rows) / 1000
        self.non2xx = sum(int(r["non2xx"]) for r in rows)
        self.sockerr = sum(int(r["socket_errors"]) for r in rows)
        self.requests = sum(int(r["requests"]) for r in rows)

        def cores(key):
            return statistics.median(float(r[key]) / float(r["duration_s"]) for r in rows)

        self.cpu_server = cores("cpu_server_s")
        self.cpu_wrk = cores("cpu_wrk_s")
        busy = cores("cpu_busy_s")
        self.cpu_other = max(0.0, busy - self.cpu_server - self.cpu_wrk)
        # Server CPU per answered request (ms): the median over the rounds;
        # what a request costs, whatever share of the cores it got.
        per = [float(r["cpu_server_s"]) * 1000 / int(r["requests"]) for r in rows if int(r["requests"]) > 0]
        self.cpu_ms_per_req = statistics.median(per) if per else None
        self.cpu_busy = busy
        self.rounds = len(rows)

    def round_rps(self):
        return {k: float(r["rps"]) for k, r in self.by_round.items()}

    def round_other(self):
        """Cores taken by other work in each round."""
        return {k: max(0.0, (float(r["cpu_busy_s"]) - float(r["cpu_server_s"]) - float(r["cpu_wrk_s"]))
                       / float(r["duration_s"])) for k, r in self.by_round.items()}


class NotMeasured:
    """A cell the run left out: its warmcgi server answered 500 because its
    isolation mode cannot run the script (run.sh's verify, meta
    not_measured)."""

    def __init__(self, server, reason):
        self.server, self.reason = server, reason
        self.rps = None


def not_measured_of(meta):
    """{(set, server): reason} from meta's not_measured=SET:SERVER=REASON|..."""
    out = {}
    for item in filter(None, meta.get("not_measured", "").split("|")):
        key, _, reason = item.partition("=")
        set_, _, server = key.partition(":")
        out[(set_, server)] = reason
    return out


def fmt_cell_rps(c):
    return "–" if c.rps is None else fmt_rps(c.rps)


def ratio(a, b):
    """Ratio of medians a/b, the range of the per-round ratios, and the
    ratio in the quietest round (the least CPU taken by other work during
    either of the two cells)."""
    if a is None or b is None or b.rps == 0:
        return None, None, None, None
    ra, rb = a.round_rps(), b.round_rps()
    oa, ob = a.round_other(), b.round_other()
    rounds = [k for k in ra if k in rb and rb[k] > 0]
    per = [ra[k] / rb[k] for k in rounds]
    quiet = None
    if rounds:
        k = min(rounds, key=lambda k: max(oa[k], ob[k]))
        quiet = ra[k] / rb[k]
    return a.rps / b.rps, (min(per) if per else None), (max(per) if per else None), quiet


def comparisons_of(cell, modes, meta):
    """Every ratio of the report: (label, numerator cell, denominator cell,
    target or None for context)."""
    comparisons = []
    workers = meta.get("workers", "?")
    for mode in modes:
        w = "warmcgi-" + mode
        tag = "warmcgi %s" % mode
        # Fork mode (a process per request) has only the two mod_cgi targets.
        embedded = mode != "fork"
        comparisons += [
            ("%s / Apache mod_cgi, hello.py" % tag, cell("hello", w), cell("hello", "apache-cgi"),
             HELLO_TARGET.get(mode, 150)),
            ("%s / mod_wsgi embedded native WSGI hello" % tag, cell("hello", w), cell("hello", "apache-wsgi"),
             1.5 if embedded else None),
            ("%s hello.py / Go static ceiling" % tag, cell("hello", w), cell("hello", "go-static"),
             0.70 if embedded else None),
            ("%s / Apache mod_cgi, form POST" % tag, cell("form", w), cell("form", "apache-cgi"),
             150 if embedded else None),
            ("%s / Apache mod_cgi, hgweb page" % tag, cell("hgweb", w), cell("hgweb", "apache-cgi"),
             30 if embedded else None),
            ("%s / Apache mod_cgi, Django page" % tag, cell("django", w), cell("django", "apache-cgi"),
             DJANGO_TARGET),
            ("%s / mod_wsgi embedded native WSGI, Django page" % tag, cell("django", w),
             cell("django", "apache-wsgi"), None),
            ("%s cpu5ms.py, %s workers / 1 worker" % (tag, workers),
             cell("cpu", w), cell("cpu", w + "-w1"), 1.8 if embedded else None),
            ("%s / Apache mod_cgi, cpu5ms.py" % tag, cell("cpu", w), cell("cpu", "apache-cgi"), None),
            ("%s / Apache mod_cgi, out1mb.py" % tag, cell("out1mb", w), cell("out1mb", "apache-cgi"), None),
            ("%s hello.py, %s workers / 1 worker" % (tag, workers),
             cell("hello", w), cell("hello", w + "-w1"), None),
        ]
        if mode != "subinterp":
            # Issue 17: process mode at least half as fast as subinterp.
            comparisons += [
                ("%s / warmcgi subinterp, hello.py" % tag, cell("hello", w), cell("hello", "warmcgi-subinterp"),
                 0.5 if mode == "process" else None),
                ("%s / warmcgi subinterp, cpu5ms.py" % tag, cell("cpu", w), cell("cpu", "warmcgi-subinterp"), None),
            ]
        for s in ("hello", "form", "cpu", "out1mb", "hgweb", "django"):
            comparisons.append(("%s / nginx+fcgiwrap, %s" % (tag, SET_LABELS[s]),
                                cell(s, w), cell(s, "nginx-fcgiwrap"), None))
    # Behind nginx (issue 17): the same nginx in front of each backend.
    fm = meta.get("fcgi_mode", "?")
    comparisons += [
        ("nginx → warmcgi %s FastCGI TCP / nginx → uWSGI native WSGI, hello" % fm,
         cell("hello", "nginx-warmcgi-tcp"), cell("hello", "nginx-uwsgi"), 1.5),
        ("nginx → warmcgi %s FastCGI Unix socket / nginx → uWSGI native WSGI, hello" % fm,
         cell("hello", "nginx-warmcgi-unix"), cell("hello", "nginx-uwsgi"), 1.5),
        ("nginx → warmcgi %s FastCGI Unix socket, fastcgi_keep_conn / nginx → uWSGI native WSGI, hello" % fm,
         cell("hello", "nginx-warmcgi-keep"), cell("hello", "nginx-uwsgi"), None),
        ("nginx → warmcgi %s FastCGI Unix socket / nginx → fcgiwrap, hello" % fm,
         cell("hello", "nginx-warmcgi-unix"), cell("hello", "nginx-fcgiwrap"), None),
        ("nginx → warmcgi %s FastCGI Unix socket / warmcgi %s over HTTP alone, hello" % (fm, fm),
         cell("hello", "nginx-warmcgi-unix"), cell("hello", "warmcgi-" + fm), None),
        ("nginx → uWSGI / mod_wsgi embedded, native WSGI hello",
         cell("hello", "nginx-uwsgi"), cell("hello", "apache-wsgi"), None),
        ("nginx → warmcgi %s FastCGI Unix socket / nginx → uWSGI native WSGI, Django page" % fm,
         cell("django", "nginx-warmcgi-unix"), cell("django", "nginx-uwsgi"), None),
    ]
    return comparisons


def verdict(value, target, others, run_full, at_most=False):
    """The "met" column: only what this run can say. others: the cores
    other work took during the cells compared; at_most: the target is an
    upper bound."""
    if target is None:
        return None
    if value is None:
        return "no data"
    if not run_full:
        return "not judged (short run)"
    if others and max(others) > NOISY:
        return "not judged (noisy: %.2f cores of other work)" % max(others)
    return "yes" if (value <= target if at_most else value >= target) else "**no**"


def ratio_rows_of(comparisons, run_full):
    """(label, ratio, low, high, quietest, by-CPU ratio, target, met, a, b)
    of every comparison whose two cells were measured."""
    rows = []
    for label, a, b, target in comparisons:
        if a is None or b is None:
            continue
        gone = [c for c in (a, b) if isinstance(c, NotMeasured)]
        if gone:
            met = None if target is None else "not measured: %s serves no such page (%s)" % (
                server_label(gone[0].server), gone[0].reason)
            rows.append((label, None, None, None, None, None, target, met, a, b))
            continue
        by_cpu = b.cpu_ms_per_req / a.cpu_ms_per_req if a.cpu_ms_per_req and b.cpu_ms_per_req else None
        r, lo, hi, quiet = ratio(a, b)
        met = verdict(r, target, [a.cpu_other, b.cpu_other], run_full)
        rows.append((label, r, lo, hi, quiet, by_cpu, target, met, a, b))
    return rows


def mib(kib):
    return int(kib) / 1024


def busy_procs(m):
    """Processes a warmcgi whose workers are all busy has: the server alone
    (subinterp), with a worker process each (process), or its processes at
    rest (the server and the template) and a child per request (fork)."""
    n = int(m["workers"])
    return {"process": n + 1, "fork": int(m["procs_rest"]) + n}.get(m["mode"], 1)


def memory_rows(memory, modes, run_full):
    """(label, value, target, met) rows of memory per extra worker: PSS
    summed over the server and all its processes."""
    rows = []
    for mode in modes:
        mem = sorted((int(m["workers"]), m) for m in memory if m["mode"] == mode)
        if len(mem) < 2:
            continue
        (n0, m0), (n1, m1) = mem[0], mem[-1]

        def per(key):
            return (mib(m1[key]) - mib(m0[key])) / (n1 - n0)

        busy = per("pss_kib_busy")
        cold = [m for _, m in mem if int(m["workers_warmed"]) < int(m["workers"])]
        missing = [m for _, m in mem if int(m["procs_busy"]) < busy_procs(m)]
        if cold:
            met = "not judged (warm.py reached only %s of %s workers)" % (cold[0]["workers_warmed"],
                                                                          cold[0]["workers"])
        elif missing:
            met = "not judged (only %s of %d processes up at -w %s)" % (
                missing[0]["procs_busy"], busy_procs(missing[0]), missing[0]["workers"])
        else:
            # Memory does not depend on the CPU other work takes, nor on
            # the length of the cells.
            met = verdict(busy, 15, None, True, at_most=True)
        rows.append(("warmcgi %s PSS per extra worker, all processes (-w %d → %d, %d requests holding the workers)"
                     % (mode, n0, n1, n1), "%.1f MiB" % busy, "≤ 15 MiB", met))
        rows.append(("warmcgi %s PSS per extra worker, all processes, at rest after warm.py" % mode,
                     "%.1f MiB" % per("pss_kib_rest"), "(context)", None))
        rows.append(("warmcgi %s PSS per extra worker, all processes, at rest after an hgweb page each" % mode,
                     "%.1f MiB" % per("pss_kib_hgweb"), "(context)", None))
        rows.append(("warmcgi %s RSS summed over its processes per extra worker (busy; counts shared pages "
                     "once per process)" % mode, "%.1f MiB" % per("rss_sum_kib_busy"), "(context)", None))
    return rows


def latency_rows(cell, modes, run_full):
    rows = []
    for mode in modes:
        c = cell("latency", "warmcgi-" + mode)
        if c is None or c.p50 <= 0:
            continue
        v = c.p99 / c.p50
        other = c.round_other()
        q = c.by_round[min(other, key=other.get)]
        qv = float(q["p99_us"]) / max(1.0, float(q["p50_us"]))
        met = verdict(v, 3, [c.cpu_other], run_full, at_most=True)
        rows.append(("warmcgi %s p99 / p50 at %d connections (hello.py)" % (mode, c.conns),
                     "%.2f (p50 %s ms, p99 %s ms); quietest round %.2f" % (v, fmt_ms(c.p50), fmt_ms(c.p99), qv),
                     "≤ 3", met))
    return rows


def write_csvs(out, stem, ordered, cell, raw, memory):
    w_ratio = {}
    for c in ordered:
        base = cell(c.set if c.set != "latency" else "hello", "apache-cgi")
        w_ratio[(c.set, c.server)] = (c.rps / base.rps) if base is not None and base.rps > 0 and c.set != "latency" else None
    with open(os.path.join(out, stem + ".csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["set", "script", "server", "workers", "connections", "rounds", "rps_median", "rps_min",
                     "rps_max", "rps_per_round", "p50_ms", "p90_ms", "p99_ms", "non2xx", "socket_errors",
                     "requests", "cpu_server_cores", "cpu_wrk_cores", "cpu_other_cores", "rps_vs_apache_cgi",
                     "cpu_server_ms_per_request"])
        for c in ordered:
            rr = c.round_rps()
            r = w_ratio[(c.set, c.server)]
            wr.writerow([c.set, c.script, c.server, c.workers, c.conns, c.rounds, "%.1f" % c.rps,
                         "%.1f" % c.rps_min, "%.1f" % c.rps_max,
                         ";".join("%.1f" % rr[k] for k in sorted(rr)),
                         "%.3f" % c.p50, "%.3f" % c.p90, "%.3f" % c.p99, c.non2xx, c.sockerr, c.requests,
                         "%.2f" % c.cpu_server, "%.2f" % c.cpu_wrk, "%.2f" % c.cpu_other,
                         "" if r is None else "%.2f" % r,
                         "" if c.cpu_ms_per_req is None else "%.3f" % c.cpu_ms_per_req])
    with open(os.path.join(out, stem + "-rounds.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(raw[0].keys()))
        wr.writeheader()
        wr.writerows(raw)
    mem_path = os.path.join(out, stem + "-memory.csv")
    if memory:
        with open(mem_path, "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=list(memory[0].keys()))
            wr.writeheader()
            wr.writerows(memory)
    elif os.path.exists(mem_path):
        os.remove(mem_path)  # a run of this day and Python without the memory measurement
    return w_ratio


def header_lines(meta, ordered):
    md = []
    md.append("## Results %s %s, warmcgi embedding Python %s" % (meta.get("date", ""), meta.get("time", ""),
                                                                 meta.get("warmcgi_python", "?")))
    md.append("")
    md.append("Machine: %s, %s cores, %s, %s, kernel %s; load average before %s, after %s." % (
        meta.get("cpu", "?"), meta.get("cores", "?"), meta.get("memory", "?"), meta.get("os", "?"),
        meta.get("kernel", "?"), meta.get("load_before", "?"), meta.get("load_after", "?")))
    md.append("Versions: warmcgi %s built with %s, mode `%s`; CGI scripts run by /usr/bin/python3 %s; %s; "
              "mod_wsgi %s (%s MPM); nginx %s; fcgiwrap %s; uWSGI %s; wrk %s; Mercurial %s; Django %s." % (
                  meta.get("commit", "?"), meta.get("warmcgi_go", "?"), meta.get("warmcgi_mode", "?"),
                  meta.get("cgi_python", "?"), meta.get("apache", "?"), meta.get("mod_wsgi", "?"),
                  meta.get("wsgi_mpm", "?"), meta.get("nginx", "?"), meta.get("fcgiwrap", "?"),
                  meta.get("uwsgi", "?"), meta.get("wrk", "?"), meta.get("mercurial", "?"), meta.get("django", "?")))
    md.append("Method: wrk -t%s, %s s per cell after %s s of warm-up, %s rounds with the servers alternating "
              "(order rotated every round), medians; warmcgi -w %s; fcgiwrap -c %s; uWSGI %s processes; "
              "warmcgi behind nginx: `--isolation %s`; server CPU counted by %s." % (
                  meta.get("threads", "?"), meta.get("duration", "?"), meta.get("warmup", "?"),
                  meta.get("rounds", "?"), meta.get("workers", "?"), meta.get("fcgi_children", "?"),
                  meta.get("uwsgi_processes", "?"), meta.get("fcgi_mode", "?"), meta.get("cpu_accounting", "?")))
    other = statistics.mean(c.cpu_other for c in ordered)
    noisy = [c for c in ordered if c.cpu_other > NOISY]
    md.append("Other work on the machine took %.2f cores on average during the measured cells; %d of %d cells are "
              "marked ⚠ (more than %.2f); a target is judged only from a run of at least %d rounds of %d s whose "
              "two cells are not marked." % (other, len(noisy), len(ordered), NOISY, JUDGE_ROUNDS, JUDGE_DURATION))
    if other > NOISY:
        md.append("")
        md.append("**This run was disturbed by other work on the machine: compare its ratios, in the quietest "
                  "round where they differ, rather than its absolute numbers.**")
    return md


def fmt_target(target):
    return ("≥ %d%%" % round(target * 100)) if target < 1 else ("≥ %s×" % ("%g" % target))


def markdown(meta, stem, ordered, ratio_rows, extra_rows, memory, w_ratio):
    md = header_lines(meta, ordered)
    md.append("")
    md.append("### Targets (ratios within this run)")
    md.append("")
    md.append("| comparison | measured (ratio of medians) | per-round range | quietest round | by CPU per request "
              "| target | met |")
    md.append("|---|---:|---:|---:|---:|---:|:---:|")
    for label, r, lo, hi, quiet, by_cpu, target, met, _, _ in ratio_rows:
        if target is None:
            continue
        rng = "%s – %s" % (fmt_ratio(lo), fmt_ratio(hi)) if lo is not None else "–"
        md.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            label, fmt_ratio(r), rng, fmt_ratio(quiet), fmt_ratio(by_cpu), fmt_target(target), met))
    for label, value, target, met in extra_rows:
        md.append("| %s | %s | | | | %s | %s |" % (label, value, target, met or ""))
    md.append("")
    md.append("*Quietest round*: the per-round ratio from the round in which other work on the machine took the "
              "least CPU during the two cells compared. *By CPU per request*: the peer's server CPU per answered "
              "request over warmcgi's (both medians over the rounds), the ratio the two would reach on an "
              "otherwise idle machine where both are CPU-bound.")
    md.append("")
    md.append("### All cells (medians over the rounds)")
    md.append("")
    md.append("| script | server | conns | req/s | min – max | p50 ms | p99 ms | vs mod_cgi | errors | "
              "CPU server | CPU ms/req | CPU wrk | CPU other |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in ordered:
        r = w_ratio[(c.set, c.server)]
        errs = c.non2xx + c.sockerr
        md.append("| %s | %s | %d | %s | %s – %s | %s | %s | %s | %s | %.2f | %s | %.2f | %.2f" % (
            SET_LABELS.get(c.set, c.set) if c.set != "latency" else "hello.py", server_label(c.server), c.conns,
            fmt_rps(c.rps), fmt_rps(c.rps_min), fmt_rps(c.rps_max), fmt_ms(c.p50), fmt_ms(c.p99),
            "" if r is None else fmt_ratio(r), errs if errs else "0", c.cpu_server,
            "–" if c.cpu_ms_per_req is None else fmt_ms(c.cpu_ms_per_req), c.cpu_wrk, c.cpu_other)
            + (" ⚠" if c.cpu_other > NOISY else "") + " |")
    md.append("")
    md.append("CPU columns are cores used during the measured seconds (median over the rounds): the server with "
              "everything it forked (and its nginx, for the nginx cells), wrk, and everything else on the machine. "
              "⚠: other work took more than %.2f of a core in that cell, so its numbers are the least trustworthy."
              % NOISY)
    md.append("")
    md.append("### Other ratios (context)")
    md.append("")
    md.append("| comparison | measured (ratio of medians) | per-round range | quietest round | by CPU per request |")
    md.append("|---|---:|---:|---:|---:|")
    for label, r, lo, hi, quiet, by_cpu, target, met, _, _ in ratio_rows:
        if target is not None:
            continue
        rng = "%s – %s" % (fmt_ratio(lo), fmt_ratio(hi)) if lo is not None else "–"
        md.append("| %s | %s | %s | %s | %s |" % (label, fmt_ratio(r), rng, fmt_ratio(quiet), fmt_ratio(by_cpu)))
    md.append("")
    if memory:
        md.append("### Memory (PSS summed over the server and all its processes)")
        md.append("")
        md.append("| mode | workers | workers reached | processes (busy) | PSS at rest | PSS busy | RSS sum busy "
                  "| PSS after an hgweb page each | RSS of the server process |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for m in memory:
            md.append("| %s | %s | %s | %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |" % (
                m["mode"], m["workers"], m["workers_warmed"], m["procs_busy"], mib(m["pss_kib_rest"]),
                mib(m["pss_kib_busy"]), mib(m["rss_sum_kib_busy"]), mib(m["pss_kib_hgweb"]),
                mib(m["main_rss_kib_rest"])))
        md.append("")
        md.append("*Busy*: while as many `warm.py` requests as workers hold every worker (fork mode's per-request "
                  "processes exist only then). PSS (`/proc/PID/smaps_rollup`) divides each shared page among the "
                  "processes mapping it, so the sum counts it once; the RSS sum counts it in every process.")
        md.append("")
    md.append("Chart: [%s.svg](%s.svg); per-cell data: [%s.csv](%s.csv); every round: [%s-rounds.csv](%s-rounds.csv)"
              % ((stem,) * 6) + ("; memory: [%s-memory.csv](%s-memory.csv)." % (stem, stem) if memory else "."))
    return "\n".join(md) + "\n"


PROFILE_INTRO = (
    "After the measured rounds (PROFILE=1), each cell below ran once more for the same time under a "
    "system-wide `perf record -g -e cpu-clock`; benchmarks/perfsplit.py charged every sample to its process "
    "and, for warmcgi, to where in the code it fell, divided by the requests wrk counted. perf's own cost "
    "is in these figures, so they are higher than the table's CPU per request; compare the parts, not "
    "the totals. *Scheduling* is the kernel's futex and nanosleep calls (threads put to sleep and woken: the "
    "hand-off between a connection's goroutine and the interpreter's thread, the Go runtime's idle threads) "
    "plus the Go scheduler's own code.\n\n")


README_BEGIN = "<!-- bench-compare:begin -->"
README_END = "<!-- bench-compare:end -->"


def readme_block(meta, stem, link, ordered, ratio_rows, extra_rows, run_full):
    """The README's performance block: the targets of this run, with what
    they were measured on."""
    other = statistics.mean(c.cpu_other for c in ordered)
    md = [README_BEGIN,
          "<!-- Generated by benchmarks/report.py (make bench-compare UPDATE_README=1); edits here are lost. -->",
          "",
          "**`make bench-compare`, %s %s**, warmcgi %s embedding Python %s; %s, %s cores, %s, %s; wrk -t%s -c%s on "
          "the same cores, %s rounds of %s s, medians; warmcgi -w %s, behind nginx `--isolation %s`. Other work "
          "on the machine took %.2f cores on average%s. Every cell: [%s.md](%s.md)." % (
              meta.get("date", "?"), meta.get("time", ""), meta.get("commit", "?"),
              meta.get("warmcgi_python", "?"), meta.get("cpu", "?"), meta.get("cores", "?"),
              meta.get("memory", "?"), meta.get("os", "?"), meta.get("threads", "?"), meta.get("conns", "?"),
              meta.get("rounds", "?"), meta.get("duration", "?"), meta.get("workers", "?"),
              meta.get("fcgi_mode", "?"), other,
              "" if run_full and other <= NOISY else " (**disturbed or short run: targets not judged**)",
              link + stem, link + stem),
          "",
          "| comparison | warmcgi req/s | anchor req/s | ratio (per-round range) | by CPU per request | target | met |",
          "|---|---:|---:|---:|---:|---:|:---:|"]
    for label, r, lo, hi, quiet, by_cpu, target, met, a, b in ratio_rows:
        if target is None:
            continue
        rng = " (%s – %s)" % (fmt_ratio(lo), fmt_ratio(hi)) if lo is not None and hi != lo else ""
        md.append("| %s | %s | %s | %s%s | %s | %s | %s |" % (
            label, fmt_cell_rps(a), fmt_cell_rps(b), fmt_ratio(r), rng, fmt_ratio(by_cpu), fmt_target(target),
            met))
    for label, value, target, met in extra_rows:
        if met is not None:
            md.append("| %s | | | %s | | %s | %s |" % (label, value, target, met))
    md += ["", "![Requests per second and p50/p99 latency of every cell, %s](%s%s.svg)" % (meta.get("date", ""),
                                                                                         link, stem),
           README_END]
    return "\n".join(md) + "\n"


def update_readme(path, block):
    with open(path) as f:
        text = f.read()
    a, b = text.find(README_BEGIN), text.find(README_END)
    if a < 0 or b < a:
        sys.exit("report.py: %s has no %s ... %s block to replace" % (path, README_BEGIN, README_END))
    b += len(README_END)
    if text[b:b + 1] == "\n":
        b += 1
    with open(path, "w") as f:
        f.write(text[:a] + block + text[b:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--memory", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--readme", default="README.md",
                    help="the README the -readme.md block is written for (its links are relative to it)")
    ap.add_argument("--update-readme", action="store_true",
                    help="replace the generated performance block of --readme")
    ap.add_argument("--profile", help="per-request CPU profiles of the run (benchmarks/perfsplit.py's "
                    "markdown), kept as <stem>-profile.md and linked from <stem>.md")
    args = ap.parse_args()

    meta = read_meta(args.meta)
    with open(args.raw) as f:
        raw = list(csv.DictReader(f))
    with open(args.memory) as f:
        memory = list(csv.DictReader(f))
    if not raw:
        sys.exit("report.py: no measurements in %s" % args.raw)

    groups = {}
    for r in raw:
        groups.setdefault((r["set"], r["server"]), []).append(r)
    cells = {k: Cell(v) for k, v in groups.items()}
    modes = meta.get("modes", "subinterp").split()

    def cell(set_, server):
        return cells.get((set_, server))

    def server_order(name):
        if name.startswith("warmcgi-"):
            mode = name[len("warmcgi-"):]
            w1 = mode.endswith("-w1")
            mode = mode[:-3] if w1 else mode
            return (0, modes.index(mode) if mode in modes else 99, w1)
        return (1, PEER_ORDER.index(name) if name in PEER_ORDER else 99, False)

    ordered = sorted(cells.values(), key=lambda c: (SET_ORDER.index(c.set) if c.set in SET_ORDER else 99,
                                                    server_order(c.server)))
    tag = meta.get("tag", "")
    stem = "%s-%spython%s" % (meta.get("date", "undated"), tag + "-" if tag else "",
                              meta.get("warmcgi_python", "unknown"))
    os.makedirs(args.out, exist_ok=True)
    run_full = int(meta.get("rounds", 0)) >= JUDGE_ROUNDS and float(meta.get("duration", 0)) >= JUDGE_DURATION

    skipped = not_measured_of(meta)

    def cell_or_why(set_, server):
        c = cell(set_, server)
        if c is None and (set_, server) in skipped:
            return NotMeasured(server, skipped[(set_, server)])
        return c

    ratio_rows = ratio_rows_of(comparisons_of(cell_or_why, modes, meta), run_full)
    extra_rows = latency_rows(cell, modes, run_full) + memory_rows(memory, modes, run_full)
    w_ratio = write_csvs(args.out, stem, ordered, cell, raw, memory)
    md_text = markdown(meta, stem, ordered, ratio_rows, extra_rows, memory, w_ratio)
    if args.profile:
        with open(args.profile) as f:
            profile = f.read()
        with open(os.path.join(args.out, stem + "-profile.md"), "w") as f:
            f.write("# Where each request's CPU went, %s\n\n%s" % (stem, PROFILE_INTRO) + profile)
        md_text += "\nPer-request CPU profiles of this run: [%s-profile.md](%s-profile.md).\n" % (stem, stem)
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write(md_text)
    with open(os.path.join(args.out, stem + ".svg"), "w") as f:
        f.write(render_svg(ordered, meta, server_order))
    link = os.path.relpath(args.out, os.path.dirname(os.path.abspath(args.readme))) + "/"
    block = readme_block(meta, stem, link, ordered, ratio_rows, extra_rows, run_full)
    with open(os.path.join(args.out, stem + "-readme.md"), "w") as f:
        f.write(block)
    if args.update_readme:
        update_readme(args.readme, block)

    sys.stdout.write(md_text)
    sys.stdout.write("\nwrote %s.{csv,md,svg}, %s-rounds.csv, %s-readme.md%s in %s%s\n"
                     % (stem, stem, stem, (" and %s-memory.csv" % stem) if memory else "", args.out,
                        ("; updated " + args.readme) if args.update_readme else ""))


PALETTE = {
    "warmcgi": "#1b9e77",
    "warmcgi-w1": "#66c2a5",
    "apache-cgi": "#d95f02",
    "nginx-fcgiwrap": "#e6ab02",
    "apache-wsgi": "#7570b3",
    "go-static": "#666666",
    "nginx-warmcgi-tcp": "#a6761d",
    "nginx-warmcgi-unix": "#c49a3c",
    "nginx-warmcgi-keep": "#e0c27a",
    "nginx-uwsgi": "#e7298a",
}
EXTRA_WARM = ["#1b9e77", "#0b5e47", "#2ca25f", "#99d8c9"]


def color_of(name, modes):
    if name.startswith("warmcgi-"):
        rest = name[len("warmcgi-"):]
        w1 = rest.endswith("-w1")
        mode = rest[:-3] if w1 else rest
        i = modes.index(mode) if mode in modes else 0
        base = EXTRA_WARM[i % len(EXTRA_WARM)]
        return PALETTE["warmcgi-w1"] if (w1 and i == 0) else (base + ("99" if w1 else ""))
    return PALETTE.get(name, "#999999")


def render_svg(cells, meta, server_order):
    """Two log-scale panels of grouped bars: requests/s, and p50 inside p99."""
    modes = meta.get("modes", "subinterp").split()
    sets = [s for s in SET_ORDER if any(c.set == s for c in cells)]
    servers = sorted({c.server for c in cells}, key=server_order)
    by = {(c.set, c.server): c for c in cells}

    width, left, right = 1180, 80, 20
    panel_h, top1 = 300, 70
    top2 = top1 + panel_h + 110
    # The legend wraps: one row per line of labels, then the footnote.
    legend = []
    lx = left
    for sv in servers:
        label = server_label(sv)
        if lx > left and lx + 24 + 6.5 * len(label) > width - right:
            lx = left
        legend.append((sv, label, lx, len(legend) and lx == left))
        lx += 24 + 6.5 * len(label)
    rows = 1 + sum(1 for *_, new_row in legend if new_row)
    height = top2 + panel_h + 56 + 20 * rows + 30
    group_w = (width - left - right) / len(sets)
    out = []
    out.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
               'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">' % (width, height, width, height))
    out.append('<rect width="100%" height="100%" fill="white"/>')
    title = "warmcgi vs peers — %s, %s cores, Python %s (medians of %s rounds, wrk -t%s)" % (
        meta.get("date", ""), meta.get("cores", "?"), meta.get("warmcgi_python", "?"), meta.get("rounds", "?"),
        meta.get("threads", "?"))
    out.append('<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>' % (left, html.escape(title)))

    def panel(top, title, values_of, unit, fmt):
        vals = [v for c in cells for v in values_of(c) if v > 0]
        lo = 10 ** math.floor(math.log10(min(vals)))
        hi = 10 ** math.ceil(math.log10(max(vals)))
        if max(vals) * 3 > hi:  # room for the value labels above the tallest bar
            hi *= 10
        span = math.log10(hi) - math.log10(lo)

        def y(v):
            return top + panel_h - (math.log10(max(v, lo)) - math.log10(lo)) / span * panel_h

        out.append('<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>' % (left, top - 14, html.escape(title)))
        d = lo
        while d <= hi * 1.0001:
            yy = y(d)
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (left, width - right, yy, yy))
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, yy + 4, html.escape(fmt(d))))
            d *= 10
        out.append('<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle">%s (log scale)</text>'
                   % (top + panel_h // 2, top + panel_h // 2, html.escape(unit)))
        for gi, s in enumerate(sets):
            present = [sv for sv in servers if (s, sv) in by]
            gx = left + gi * group_w
            bw = min(26, (group_w - 20) / max(1, len(present)))
            x0 = gx + (group_w - bw * len(present)) / 2
            for i, sv in enumerate(present):
                c = by[(s, sv)]
                x = x0 + i * bw
                vs = values_of(c)
                col = color_of(sv, modes)
                # The first value is the bar; a second one (p50) is drawn inside it.
                yv = y(vs[0])
                out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="%s">'
                           '<title>%s — %s: %s %s</title></rect>' % (
                               x + 1, yv, bw - 2, top + panel_h - yv, col, "0.45" if len(vs) > 1 else "1",
                               html.escape(server_label(sv)), html.escape(SET_LABELS.get(s, s)),
                               html.escape(" / ".join(fmt(v) for v in vs)), html.escape(unit)))
                if len(vs) > 1:
                    y50 = y(vs[1])
                    out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (
                        x + 1, y50, bw - 2, top + panel_h - y50, col))
                tx, ty = x + bw / 2 + 3, yv - 4
                out.append('<text x="%.1f" y="%.1f" font-size="9" transform="rotate(-90 %.1f %.1f)">%s</text>' % (
                    tx, ty, tx, ty, html.escape(fmt(vs[0]))))
            label = SET_LABELS.get(s, s)
            out.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="11">%s</text>' % (
                gx + group_w / 2, top + panel_h + 16, html.escape(label)))
            conns = next(by[(s, sv)].conns for sv in present)
            out.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10" fill="#555">%d connections</text>'
                       % (gx + group_w / 2, top + panel_h + 30, conns))
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>' % (left, width - right, top + panel_h,
                                                                             top + panel_h))

    panel(top1, "Requests per second (higher is better)", lambda c: [c.rps], "requests/s", fmt_rps)
    panel(top2, "Latency: p99 (light bar) and p50 (dark bar), lower is better", lambda c: [c.p99, c.p50], "ms",
          fmt_ms)

    ly = top2 + panel_h + 56
    for sv, label, lx, new_row in legend:
        if new_row:
            ly += 20
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, ly - 10, color_of(sv, modes)))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 16, ly, html.escape(label)))
    out.append('<text x="%d" y="%d" font-size="10" fill="#555">Same scripts, same /usr/bin/python3, same machine; '
               'every server on 127.0.0.1. warmcgi -w %s; see benchmarks/README.md for the method.</text>'
               % (left, height - 16, meta.get("workers", "?")))
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
