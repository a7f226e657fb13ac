#!/usr/bin/python3
"""Tests of the comparison harness's Python parts (standard library only):
report.py on made-up measurements, pss.py on a process tree made here.

    python3 benchmarks/harness_test.py
"""

import csv
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RAW_FIELDS = ("round,set,script,server,workers,conns,duration_s,requests,rps,p50_us,p90_us,p99_us,max_us,non2xx,"
              "socket_errors,cpu_server_s,cpu_wrk_s,cpu_busy_s,cpu_total_s").split(",")
MEM_FIELDS = ["mode", "workers", "workers_warmed"] + ["%s_%s" % (k, when) for when in ("rest", "busy", "hgweb")
                                                      for k in ("procs", "pss_kib", "rss_sum_kib", "main_rss_kib")]


def raw_row(rnd, set_, server, rps, other=0.1, cpu=1.0, duration=5.0):
    """One wrk run: rps for duration seconds, the server using cpu cores,
    wrk 0.2, other work `other` cores."""
    return {"round": rnd, "set": set_, "script": "hello", "server": server, "workers": 2, "conns": 8,
            "duration_s": duration, "requests": int(rps * duration), "rps": rps, "p50_us": 500, "p90_us": 800,
            "p99_us": 1200, "max_us": 5000, "non2xx": 0, "socket_errors": 0, "cpu_server_s": cpu * duration,
            "cpu_wrk_s": 0.2 * duration, "cpu_busy_s": (cpu + 0.2 + other) * duration, "cpu_total_s": 2 * duration}


def mem_row(mode, n, procs_busy, pss_busy_mib, procs_rest=1):
    kib = int(pss_busy_mib * 1024)
    return {"mode": mode, "workers": n, "workers_warmed": n,
            "procs_rest": procs_rest, "pss_kib_rest": kib, "rss_sum_kib_rest": kib, "main_rss_kib_rest": kib,
            "procs_busy": procs_busy, "pss_kib_busy": kib, "rss_sum_kib_busy": 2 * kib, "main_rss_kib_busy": kib,
            "procs_hgweb": procs_rest, "pss_kib_hgweb": kib, "rss_sum_kib_hgweb": kib, "main_rss_kib_hgweb": kib}


class ReportTest(unittest.TestCase):
    def run_report(self, raw, memory, rounds=3, duration=5, readme_text=None, meta_extra="", profile=None):
        d = tempfile.mkdtemp(prefix="report-test.")
        self.addCleanup(subprocess.run, ["rm", "-rf", d])
        for name, fields, rows in (("raw.csv", RAW_FIELDS, raw), ("memory.csv", MEM_FIELDS, memory)):
            with open(os.path.join(d, name), "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)
        with open(os.path.join(d, "meta.env"), "w") as f:
            f.write("date=2026-12-07\ntime=03:00:00Z\nwarmcgi_python=3.11.2\nmodes=subinterp process fork\n"
                    "workers=2\nrounds=%d\nduration=%d\nfcgi_mode=subinterp\ncommit=abc1234\ntag=t\n"
                    "cpu=Test CPU\ncores=2\n" % (rounds, duration) + meta_extra)
        readme = os.path.join(d, "README.md")
        with open(readme, "w") as f:
            f.write(readme_text or "# x\n")
        args = [sys.executable, os.path.join(HERE, "report.py"), "--raw", os.path.join(d, "raw.csv"),
                "--memory", os.path.join(d, "memory.csv"), "--meta", os.path.join(d, "meta.env"),
                "--out", os.path.join(d, "results"), "--readme", readme]
        if readme_text is not None:
            args.append("--update-readme")
        if profile is not None:
            with open(os.path.join(d, "profile.md"), "w") as f:
                f.write(profile)
            args += ["--profile", os.path.join(d, "profile.md")]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        self.results = os.path.join(d, "results")
        with open(os.path.join(d, "results", "2026-12-07-t-python3.11.2-readme.md")) as f:
            block = f.read()
        with open(readme) as f:
            return block, f.read()

    def cells(self, other=0.1, rounds=3, duration=5.0):
        rows = []
        for r in range(1, rounds + 1):
            rows += [raw_row(r, "hello", "nginx-warmcgi-tcp", 3000, other, duration=duration),
                     raw_row(r, "hello", "nginx-warmcgi-unix", 1000, other, duration=duration),
                     raw_row(r, "hello", "nginx-uwsgi", 1500, other, duration=duration),
                     raw_row(r, "hello", "warmcgi-subinterp", 10000, other, duration=duration),
                     raw_row(r, "hello", "warmcgi-process", 4000, other, duration=duration)]
        return rows

    @staticmethod
    def row(block, start):
        return next(line for line in block.splitlines() if line.startswith("| " + start))

    def test_quiet_full_run_is_judged(self):
        block, _ = self.run_report(self.cells(), [])
        self.assertIn("| 3,000 | 1,500 | 2.00× |", self.row(block, "nginx → warmcgi subinterp FastCGI TCP"))
        self.assertTrue(self.row(block, "nginx → warmcgi subinterp FastCGI TCP").endswith("| ≥ 1.5× | yes |"))
        self.assertTrue(self.row(block, "nginx → warmcgi subinterp FastCGI Unix").endswith("| **no** |"))
        self.assertTrue(self.row(block, "warmcgi process / warmcgi subinterp, hello").endswith("| ≥ 50% | **no** |"))
        self.assertNotIn("not judged", block)

    def test_noisy_run_is_not_judged(self):
        block, _ = self.run_report(self.cells(other=0.6), [])
        self.assertIn("not judged (noisy: 0.60 cores of other work)",
                      self.row(block, "nginx → warmcgi subinterp FastCGI TCP"))
        self.assertIn("targets not judged", block)
        self.assertNotIn("| yes |", block)

    def test_short_run_is_not_judged(self):
        block, _ = self.run_report(self.cells(rounds=1, duration=2), [], rounds=1, duration=2)
        self.assertIn("not judged (short run)", self.row(block, "nginx → warmcgi subinterp FastCGI TCP"))

    def test_memory_per_worker_is_pss_of_all_processes(self):
        memory = [mem_row("process", 1, 2, 40), mem_row("process", 8, 9, 180),
                  mem_row("fork", 1, 4, 28, procs_rest=3), mem_row("fork", 8, 9, 60, procs_rest=3)]
        block, _ = self.run_report(self.cells(), memory)
        self.assertIn("| 20.0 MiB | | ≤ 15 MiB | **no** |", self.row(block, "warmcgi process PSS per extra worker"))
        # Fork at -w 8 had 9 processes where 3 + 8 were expected: not judged.
        self.assertIn("not judged (only 9 of 11 processes up at -w 8)",
                      self.row(block, "warmcgi fork PSS per extra worker"))

    def test_memory_of_workers_not_reached_is_not_judged(self):
        cold = mem_row("subinterp", 32, 1, 300)
        cold["workers_warmed"] = 5
        block, _ = self.run_report(self.cells(), [mem_row("subinterp", 1, 1, 40), cold])
        self.assertIn("not judged (warm.py reached only 5 of 32 workers)",
                      self.row(block, "warmcgi subinterp PSS per extra worker"))

    def test_cell_not_measured_says_why(self):
        # run.sh leaves out a warmcgi cell whose isolation mode refused the
        # script (verify); the target row says so instead of vanishing.
        rows = self.cells()
        for r in range(1, 4):
            rows += [raw_row(r, "hgweb", "apache-cgi", 10), raw_row(r, "hgweb", "warmcgi-process", 200)]
        block, _ = self.run_report(rows, [], meta_extra="not_measured=hgweb:warmcgi-subinterp="
                                   "module 'parsers' cannot load in a sub-interpreter\n")
        self.assertIn("| – | 10.0 | – | – | ≥ 30× | not measured: warmcgi subinterp serves no such page "
                      "(module 'parsers' cannot load in a sub-interpreter) |",
                      self.row(block, "warmcgi subinterp / Apache mod_cgi, hgweb page"))
        self.assertIn("| 200 | 10.0 | 20× |", self.row(block, "warmcgi process / Apache mod_cgi, hgweb page"))

    def test_readme_block_is_replaced(self):
        text = "# x\n\nbefore\n<!-- bench-compare:begin -->\nold\n<!-- bench-compare:end -->\nafter\n"
        block, readme = self.run_report(self.cells(), [], readme_text=text)
        self.assertEqual(readme, "# x\n\nbefore\n" + block + "after\n")
        self.assertIn("2026-12-07 03:00:00Z", block)
        self.assertIn("Python 3.11.2", block)
        self.assertIn("Test CPU, 2 cores", block)
        self.assertIn("](results/2026-12-07-t-python3.11.2.svg)", block)

    def test_profile_is_kept_and_linked(self):
        self.run_report(self.cells(), [], profile="### warmcgi-subinterp, hello.py\n\nfigures\n")
        with open(os.path.join(self.results, "2026-12-07-t-python3.11.2-profile.md")) as f:
            text = f.read()
        self.assertTrue(text.startswith("# Where each request's CPU went, 2026-12-07-t-python3.11.2\n"))
        self.assertIn("### warmcgi-subinterp, hello.py\n\nfigures\n", text)
        with open(os.path.join(self.results, "2026-12-07-t-python3.11.2.md")) as f:
            self.assertIn("[2026-12-07-t-python3.11.2-profile.md](2026-12-07-t-python3.11.2-profile.md)", f.read())
        # Without a profile there is neither.
        self.run_report(self.cells(), [])
        self.assertFalse(os.path.exists(os.path.join(self.results, "2026-12-07-t-python3.11.2-profile.md")))


# perf script -F comm,pid,tid,period,ip,sym,dso of a system-wide record,
# cut down from a real one of nginx → warmcgi (one sample per stack shape;
# 1 ms each).
PERF_SCRIPT = """\
warmcgi   100/101       1000000
\t    7f2207248b5a _PyEval_EvalFrameDefault (/usr/lib/x86_64-linux-gnu/libpython3.13.so.1.0)
\t    7f22076adb40 [unknown] ([unknown])

warmcgi   100/102       1000000
\t          7a0001 env_bytes (/src/bin/warmcgi)
\t    7f22076adb40 [unknown] ([unknown])

warmcgi   100/103       1000000
\tffffffff8100 finish_task_switch.isra.0 ([kernel.kallsyms])
\tffffffff8101 __schedule ([kernel.kallsyms])
\tffffffff8102 futex_wait ([kernel.kallsyms])
\tffffffff8103 __x64_sys_futex ([kernel.kallsyms])
\tffffffff8104 do_syscall_64 ([kernel.kallsyms])
\t          470001 runtime.futex.abi0 (/src/bin/warmcgi)
\t          470002 runtime.notesleep (/src/bin/warmcgi)

warmcgi   100/103       1000000
\tffffffff8100 finish_task_switch.isra.0 ([kernel.kallsyms])
\tffffffff8105 exit_to_user_mode_loop ([kernel.kallsyms])
\tffffffff8104 do_syscall_64 ([kernel.kallsyms])
\t          480001 internal/runtime/syscall/linux.Syscall6 (/src/bin/warmcgi)
\t          480002 syscall.Syscall (/src/bin/warmcgi)
\t          480003 syscall.write (/src/bin/warmcgi)
\t          480004 internal/poll.(*FD).Write (/src/bin/warmcgi)

warmcgi   100/104       1000000
\tffffffff8104 do_syscall_64 ([kernel.kallsyms])
\t    7f0000000001 chdir (/usr/lib/x86_64-linux-gnu/libc.so.6)

warmcgi   100/105       1000000
\t          410001 runtime.mallocgc (/src/bin/warmcgi)
\t          410002 runtime.newobject (/src/bin/warmcgi)
\t          700001 github.com/warmcgi/warmcgi/cgienv.(*Handler).buildEnv (/src/bin/warmcgi)

warmcgi   100/105       1000000
\t          420001 internal/runtime/maps.(*Iter).Next (/src/bin/warmcgi)
\t          420002 runtime.mapIterNext (/src/bin/warmcgi)
\t          740001 github.com/warmcgi/warmcgi/internal/frontend.parsePairs (/src/bin/warmcgi)

warmcgi   100/106       1000000
\t          430001 runtime.findRunnable (/src/bin/warmcgi)
\t          430002 runtime.schedule (/src/bin/warmcgi)
\t          430003 runtime.park_m (/src/bin/warmcgi)

exe   400/400       1000000
\t    7f2207248b5a _PyEval_EvalFrameDefault (/usr/lib/x86_64-linux-gnu/libpython3.13.so.1.0)

:4242   4242/4242       1000000
\tffffffff8108 clear_page_erms ([kernel.kallsyms])
\tffffffff8109 handle_mm_fault ([kernel.kallsyms])
\tffffffff810a exc_page_fault ([kernel.kallsyms])
\t    7f0000000002 malloc (/usr/lib/x86_64-linux-gnu/libc.so.6)

exe   400/401       1000000
\tffffffff810b irqentry_exit_to_user_mode ([kernel.kallsyms])
\tffffffff810c asm_sysvec_apic_timer_interrupt ([kernel.kallsyms])
\t    7f0000000003 malloc (/usr/lib/x86_64-linux-gnu/libc.so.6)

uwsgi core   200/200       1000000
\t          430001 uwsgi_request_wsgi (/usr/bin/uwsgi-core)

nginx   300/300       2000000
\tffffffff8106 tcp_sendmsg ([kernel.kallsyms])

swapper     0/0       3000000
\tffffffff8107 default_idle ([kernel.kallsyms])
"""


class PerfSplitTest(unittest.TestCase):
    def split(self, requests=4):
        p = subprocess.run([sys.executable, os.path.join(HERE, "perfsplit.py"), "--requests", str(requests),
                            "--label", "cell", "--json", "/dev/stdout"], input=PERF_SCRIPT, check=True,
                           capture_output=True, text=True)
        import json
        return json.JSONDecoder().raw_decode(p.stdout)[0], p.stdout

    def test_samples_are_split_per_request(self):
        res, out = self.split()
        self.assertEqual(res["samples"], 14)
        # 1 ms of CPU a sample, 4 requests: 250 µs a request per sample.
        self.assertEqual(res["processes"], {"warmcgi": 2000.0, "nginx": 500.0, "exe": 500.0,
                                            "(processes that ended unnamed)": 250.0, "uwsgi core": 250.0})
        self.assertEqual(res["idle_us"], 750.0)
        self.assertEqual(res["categories"]["warmcgi"], {
            "Python (script, runtime, pyhost C)": 500.0,
            "kernel: futex": 250.0,
            "kernel: write": 250.0,
            "kernel: chdir": 250.0,
            "Go runtime: allocation, GC": 250.0,
            "Go: internal/frontend": 250.0,
            "Go runtime: scheduling": 250.0,
        })
        # Worker processes (exe) are split too; the peers are not.
        # A timer interrupt in libc's malloc is no system call of malloc's.
        self.assertEqual(res["categories"]["exe"], {"Python (script, runtime, pyhost C)": 250.0,
                                                    "kernel: interrupts, other": 250.0})
        self.assertEqual(set(res["categories"]), {"warmcgi", "exe"})
        self.assertIn("warmcgi: Python 500.0 µs (25%), scheduling 500.0 µs (25%), kernel, other 500.0 µs (25%), "
                      "Go allocation, GC 250.0 µs (12%), Go code 250.0 µs (12%).", out)
        self.assertIn("| kernel: futex | 250.0 | 12% |", out)

    def test_kernel_samples_by_what_entered_the_kernel(self):
        sys.path.insert(0, HERE)
        import perfsplit
        libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        k = "[kernel.kallsyms]"
        cases = [
            # A page fault in malloc, not a system call named malloc.
            ([("clear_page_erms", k), ("handle_mm_fault", k), ("exc_page_fault", k), ("malloc", libc)],
             "kernel: page faults"),
            # Switched out on the way back from libc's chdir.
            ([("finish_task_switch.isra.0", k), ("do_syscall_64", k), ("chdir", libc)], "kernel: chdir"),
            ([("finish_task_switch.isra.0", k), ("do_syscall_64", k), ("runtime.usleep.abi0", "/bin/warmcgi")],
             "kernel: nanosleep"),
            ([("do_syscall_64", k), ("[unknown]", "[unknown]")], "kernel: system calls, unnamed"),
            ([("unix_stream_recvmsg", k), ("ksys_read", k), ("do_syscall_64", k)], "kernel: read"),
            ([("irqentry_exit_to_user_mode", k), ("_PyEval_EvalFrameDefault", "libpython3.13.so.1.0")],
             "kernel: interrupts, other"),
        ]
        for frames, want in cases:
            self.assertEqual(perfsplit.category(frames), want, frames)

    def test_requests_must_be_positive(self):
        p = subprocess.run([sys.executable, os.path.join(HERE, "perfsplit.py"), "--requests", "0"],
                           input=PERF_SCRIPT, capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)


# A parent that touches 64 MiB, then forks three children that each start
# a session of their own (as process-mode workers have process groups of
# their own) and sleep, sharing those pages copy-on-write.
FORKER = """
import os, sys, time
buf = bytearray(64 << 20)
for i in range(0, len(buf), 4096):
    buf[i] = 1
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        time.sleep(60)
        os._exit(0)
print("ready", flush=True)
time.sleep(60)
"""


class PSSTest(unittest.TestCase):
    def test_tree_is_counted_once(self):
        p = subprocess.Popen([sys.executable, "-c", FORKER], stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertEqual(p.stdout.readline().strip(), "ready")
        kids = []
        for _ in range(50):  # the children may not have reached setsid yet
            out = subprocess.run([sys.executable, os.path.join(HERE, "pss.py"), str(p.pid)], check=True,
                                 capture_output=True, text=True).stdout.split()
            if int(out[0]) == 4:
                break
            time.sleep(0.1)
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            kids = [int(k) for k in f.read().split()]
        self.addCleanup(lambda: [os.kill(k, 9) for k in kids])
        procs, pss, rss, main_rss = (int(v) for v in out)
        mib = 1024
        self.assertEqual(procs, 4)
        self.assertGreater(main_rss, 64 * mib)
        self.assertGreater(rss, 4 * 64 * mib)  # each process's RSS counts the shared 64 MiB
        self.assertGreater(pss, 64 * mib)
        self.assertLess(pss, 2 * 64 * mib)  # PSS counts it once


if __name__ == "__main__":
    unittest.main()
