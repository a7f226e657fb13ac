#!/usr/bin/python3
"""Where each request's CPU went: `perf script` output of a system-wide
`perf record -g` taken while wrk drove one cell, split per request.

    perf script -F comm,pid,tid,period,ip,sym,dso -i perf.data |
        python3 benchmarks/perfsplit.py --requests N --label CELL [--json OUT]

Every sample is charged to its process (by command name: warmcgi, exe (its
worker processes and fork children, started from /proc/self/exe), nginx,
wrk, ...) and, for the processes named by --detail (warmcgi and exe), to
one category by its call stack, leaf first:

- kernel samples by the system call they are in (`kernel: futex`,
  `kernel: write`, ...; a context switch counts under the call that slept),
  else page faults, else interrupts and other kernel work;
- Python: libpython, or a static libpython's symbols (Py*, _Py*), and
  pyhost's C (ph_*);
- the Go runtime: scheduling (schedule, findRunnable, park, sysmon, locked
  thread hand-offs), allocation and garbage collection, cgo, the rest;
- Go code by package (net/http, cgienv, internal/frontend, interp, ...).

Standard library only: the harness runs it with /usr/bin/python3.
"""

import argparse
import collections
import json
import re
import sys

FRAME = re.compile(r"^\s*[0-9a-f]+ (.*?) \((.*)\)\s*$")

SCHED = ("runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.mcall", "runtime.sysmon",
         "runtime.startlockedm", "runtime.stoplockedm", "runtime.goschedImpl", "runtime.stopm", "runtime.startm",
         "runtime.handoffp", "runtime.wakep", "runtime.notesleep", "runtime.notewakeup", "runtime.usleep",
         "runtime.osyield", "runtime.netpoll", "runtime.exitsyscall", "runtime.entersyscall",
         "runtime.reentersyscall", "runtime.goexit0", "runtime.newproc", "runtime.ready", "runtime.futex")
ALLOC = ("runtime.mallocgc", "runtime.gcBgMarkWorker", "runtime.gcStart", "runtime.gcAssistAlloc",
         "runtime.bgsweep", "runtime.bgscavenge", "runtime.memclrNoHeapPointers", "runtime.growslice",
         "runtime.newobject", "runtime.makeslice", "runtime.scanobject", "runtime.gcDrain")
GO_PACKAGES = (("net/http", "Go: net/http"), ("net/textproto", "Go: net/http"),
               ("net.", "Go: net, internal/poll"), ("internal/poll", "Go: net, internal/poll"),
               ("github.com/warmcgi/warmcgi/cgienv", "Go: cgienv"),
               ("github.com/warmcgi/warmcgi/internal/frontend", "Go: internal/frontend"),
               ("github.com/warmcgi/warmcgi/internal/backend", "Go: internal/backend"),
               ("github.com/warmcgi/warmcgi/internal/procmode", "Go: internal/procmode"),
               ("github.com/warmcgi/warmcgi/interp", "Go: interp"),
               ("github.com/warmcgi/warmcgi/pyhost", "Go: pyhost"),
               ("log/slog", "Go: log/slog"), ("time.", "Go: time"), ("syscall.", "Go: syscall"))


def parse(lines):
    """Yields (comm, period, frames) per sample; frames leaf first, each
    (symbol, dso)."""
    head, frames = None, []
    for line in lines:
        if not line.strip():
            if head is not None:
                yield head + (frames,)
            head, frames = None, []
            continue
        if line[0] not in " \t":
            if head is not None:
                yield head + (frames,)
            parts = line.split()
            # comm may contain spaces; then pid/tid, then the period.
            i = next((k for k in range(len(parts)) if "/" in parts[k] and parts[k].split("/")[0].isdigit()), None)
            if i is None:
                raise SystemExit("perfsplit: no PID/TID in %r: give it perf script -F comm,pid,tid,period,ip,sym,dso"
                                 % line.rstrip())
            comm = " ".join(parts[:i])
            period = int(parts[i + 1]) if len(parts) > i + 1 and parts[i + 1].isdigit() else 1
            head, frames = (comm, period), []
            continue
        m = FRAME.match(line)
        if m:
            frames.append((m.group(1), m.group(2)))
    if head is not None:
        yield head + (frames,)


KSYS = re.compile(r"^(?:__x64_sys_|__ia32_sys_|__do_sys_|__se_sys_|ksys_)(\w+)$")
GO_SYSCALL = re.compile(r"^syscall\.([a-z]\w*)$")  # syscall.write, not syscall.Syscall6


def python_frame(sym, dso, nxt):
    """Whether a frame is Python's or pyhost's C: libpython, a static
    libpython's or pyhost's named symbols, or a C function of the binary (no
    Go package path) called from C."""
    if "libpython" in dso or re.match(r"_?Py|ph_|pyhost_", sym):
        return True
    return ("." not in sym and "/" not in sym and not sym.endswith("body") and not sym.startswith("[")
            and (nxt is None or nxt[0] == "[unknown]" or "libpython" in nxt[1]))


def kernel_category(frames):
    """The system call a kernel sample is in (a context switch counts under
    the call that slept), else page faults or interrupts."""
    kernel = [s for s, d in frames if d.startswith("[kernel")]
    for s in kernel:
        m = KSYS.match(s)
        if m:
            return "kernel: " + m.group(1)
    if any(s in ("exc_page_fault", "asm_exc_page_fault", "handle_mm_fault") for s in kernel):
        return "kernel: page faults"
    if any(s.startswith(("do_syscall_64", "entry_SYSCALL")) for s in kernel):
        # Preempted or switched out on the way back from a system call to
        # user space: the call is the user side's (syscall.write,
        # runtime.futex, libc's chdir).
        user = [(s, d) for s, d in frames if not d.startswith("[kernel")]
        for s, d in user[:6]:
            if s.startswith("runtime.usleep"):
                return "kernel: nanosleep"
            if s.startswith("runtime.futex"):
                return "kernel: futex"
            m = GO_SYSCALL.match(s)
            if m:
                return "kernel: " + m.group(1)
            if "libc" in d and "." not in s and not s.startswith(("[", "_")):
                return "kernel: " + s
            if not s.startswith(("internal/runtime/syscall/", "syscall.", "[")):
                break
        return "kernel: system calls, unnamed"
    return "kernel: interrupts, other"


def category(frames):
    """The category of one sample of a detailed process."""
    if not frames:
        return "unknown"
    sym, dso = frames[0]
    if dso.startswith("[kernel"):
        return kernel_category(frames)
    names = [s for s, _ in frames]
    if sym.startswith(("runtime.", "internal/runtime/")):
        if any(n.startswith(ALLOC) for n in names):
            return "Go runtime: allocation, GC"
        if any(n.startswith(SCHED) for n in names):
            return "Go runtime: scheduling"
    for i, (s, d) in enumerate(frames):
        nxt = frames[i + 1] if i + 1 < len(frames) else None
        if python_frame(s, d, nxt):
            return "Python (script, runtime, pyhost C)"
        for prefix, cat in GO_PACKAGES:
            if s.startswith(prefix):
                return cat
        if s.startswith("github.com/warmcgi/warmcgi/"):
            return "Go: warmcgi, other"
    if sym.startswith(("runtime.", "internal/runtime/")):
        return "Go runtime: other"
    if "libc" in dso or "ld-linux" in dso or dso == "[vdso]":
        return "libc, vdso"
    return "other"


# perf names a process it saw no comm event for ":PID": fork mode's
# per-request children, which end within milliseconds.
UNNAMED = re.compile(r"^:\d+$")
ENDED = "(processes that ended unnamed)"

SCHED_CALLS = ("kernel: futex", "kernel: nanosleep", "kernel: sched_yield")


def group(cat):
    """The coarse part a category belongs to."""
    if cat.startswith("Python"):
        return "Python"
    if cat in SCHED_CALLS or cat == "Go runtime: scheduling":
        return "scheduling"
    if cat.startswith("kernel: "):
        return "kernel, other"
    if cat == "Go runtime: allocation, GC":
        return "Go allocation, GC"
    if cat.startswith("Go"):
        return "Go code"
    return "other"


def split(samples, requests, detail):
    """Per-request CPU (µs) by process and, for the detailed processes, by
    category. Periods are nanoseconds of CPU (task-clock, cpu-clock)."""
    by_proc = collections.Counter()
    by_cat = collections.defaultdict(collections.Counter)
    n, idle = 0, 0
    for comm, period, frames in samples:
        n += 1
        if comm == "swapper":  # the idle task
            idle += period
            continue
        if UNNAMED.match(comm):
            comm = ENDED
        by_proc[comm] += period
        if comm in detail:
            by_cat[comm][category(frames)] += period
    us = lambda ns: ns / 1000.0 / requests
    return {
        "samples": n,
        "requests": requests,
        "idle_us": round(us(idle), 2),
        "processes": {c: round(us(v), 2) for c, v in by_proc.most_common()},
        "categories": {c: {k: round(us(v), 2) for k, v in cats.most_common()} for c, cats in by_cat.items()},
    }


def markdown(label, res, limit=0.5):
    out = ["### %s" % label, "",
           "%d requests, %d samples. CPU per request, µs:" % (res["requests"], res["samples"]), "",
           "| process | µs/request |", "|---|---:|"]
    for c, v in res["processes"].items():
        if v >= limit:
            out.append("| %s | %.1f |" % (c, v))
    for c, cats in res["categories"].items():
        if res["processes"].get(c, 0) < limit:
            continue
        total = sum(cats.values()) or 1
        parts = collections.Counter()
        for k, v in cats.items():
            parts[group(k)] += v
        out += ["", "%s: %s." % (c, ", ".join("%s %.1f µs (%.0f%%)" % (g, v, 100 * v / total)
                                               for g, v in parts.most_common()))]
        out += ["", "%s, by where its CPU went:" % c, "", "| category | µs/request | share |", "|---|---:|---:|"]
        rest = 0.0
        for k, v in cats.items():
            if v >= limit:
                out.append("| %s | %.1f | %.0f%% |" % (k, v, 100 * v / total))
            else:
                rest += v
        if rest:
            out.append("| (each under %.1f) | %.1f | %.0f%% |" % (limit, rest, 100 * rest / total))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, required=True, help="requests served while perf recorded")
    ap.add_argument("--label", default="cell")
    ap.add_argument("--detail", default="warmcgi,exe",
                    help="comma-separated process names to split by category (exe: warmcgi's worker processes "
                    "and fork mode's children, started from /proc/self/exe)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("input", nargs="?", help="perf script output (default: stdin)")
    args = ap.parse_args()
    if args.requests <= 0:
        ap.error("--requests must be positive")
    src = open(args.input) if args.input else sys.stdin
    res = split(parse(src), args.requests, set(args.detail.split(",")))
    if res["samples"] == 0:
        sys.exit("perfsplit: no samples in the input")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(res, label=args.label), f, indent=1)
    sys.stdout.write(markdown(args.label, res))


if __name__ == "__main__":
    main()
