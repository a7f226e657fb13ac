"""What pyhost/fork/template.py's per-child bookkeeping costs in page
faults: a parent imports the modules named in FILE (e.g. those djpage.py
imports, as fork mode's learned imports put them in the template), calls
gc.freeze() as the template does, then forks 15 children per step; each
child measures its own minor faults and CPU for one step:

  frozenset    _fork_spare's frozenset(sys.modules), in every child
  report       _learn_report's scan of sys.modules.items()
  report_keys  sys.modules.keys() - the template's names (no cheaper)

  /usr/bin/python3 cow.py FILE      (FILE: module names, one a line)"""
import gc
import os
import resource
import sys
import time

names = open(sys.argv[1]).read().split()
import importlib
for n in names:
    try:
        importlib.import_module(n)
    except Exception:
        pass
gc.collect()
gc.freeze()
lib_dirs = tuple(os.path.join(p, "") for p in sys.path if p)
tmpl = frozenset(sys.modules)


def step_none():
    pass


def step_frozenset():
    global _tm
    _tm = frozenset(sys.modules)


def step_report():
    names = []
    for name, m in list(sys.modules.items()):
        if name in tmpl or name == "__main__":
            continue
        f = getattr(m, "__file__", None)
        if isinstance(f, str) and f.startswith(lib_dirs):
            names.append(name)


def step_report_cheap():
    new = sys.modules.keys() - tmpl  # only the new names' refcounts


steps = dict(none=step_none, frozenset=step_frozenset, report=step_report, report_keys=step_report_cheap)
print("modules in parent: %d" % len(sys.modules))
for name, fn in steps.items():
    res = []
    for _ in range(15):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            u0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.process_time()
            fn()
            t1 = time.process_time()
            u1 = resource.getrusage(resource.RUSAGE_SELF)
            os.write(w, ("%d %f" % (u1.ru_minflt - u0.ru_minflt, (t1 - t0) * 1e6)).encode())
            os._exit(0)
        os.close(w)
        out = os.read(r, 100).split()
        os.close(r)
        os.waitpid(pid, 0)
        res.append((int(out[0]), float(out[1])))
    res.sort()
    mid = res[len(res) // 2]
    print("%-12s faults median %4d (min %d max %d)   CPU median %7.0f us" % (
        name, mid[0], res[0][0], res[-1][0], sorted(x[1] for x in res)[len(res) // 2]))
