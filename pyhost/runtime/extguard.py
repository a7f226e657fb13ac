# Extension modules in sub-interpreters, and why a request needs another
# mode. A single-phase extension module (PyModule_Create: SWIG bindings,
# psycopg2, older Cython...) keeps the objects of whichever interpreter ran
# its init in C globals; used from a second interpreter they crash or
# corrupt the server (testdata/ext/swiglike.c). With a guard (_EXT_GUARD, a
# Go handle: --isolation auto), a sub-interpreter asks Go about each
# extension file before its init runs; Go answers from a probe that loaded
# the file in a separate process (pyhost/early.c), and an unsafe one is
# refused with ImportError. Refusals, and the features a shared process
# only emulates, are recorded as the request's reason to need another mode
# (Result.NeedsMode), which --isolation auto acts on.
from importlib.machinery import ExtensionFileLoader as _ExtensionFileLoader

_needs = [""]  # this request's first reason to need another mode
# Whether this request can still be run again elsewhere: nothing of its
# output has reached the server yet, and its body is not one read as it
# arrives (set by _begin, cleared by the first flush that sends).
_rerunnable = [False]


def _need_mode(reason):
    if _cur[1] is not None and not _needs[0]:
        _needs[0] = reason


def _move_now(reason, text=None):
    """A need the script shows before it does what it needs (a process it
    starts, a SIGALRM handler, a fork...). Under --isolation auto, while the
    request can still run again, the script stops here and --isolation auto
    runs the request again in the mode it needs, so nothing is done twice
    from here on and the emulation's approximation never shows; otherwise
    the need is only recorded (the next request is routed). text is the
    stop's message (the default names the reason)."""
    _need_mode(reason)
    if _EXT_GUARD and _rerunnable[0] and _cur[1] is not None and _get_ident() == _worker:
        raise _EndRequest(1, text or "warmcgi: this script needs another mode than a sub-interpreter: " + reason)


_ext_create = _ExtensionFileLoader.create_module
_ext_verdicts = {}  # path -> ((mtime_ns, size, inode, device), reason or "")

# The standard library's own extension modules, from its lib-dynload
# directory, that are single-phase on this version yet safe in shared-GIL
# sub-interpreters. Empty: on 3.11 the probe finds _asyncio, _ctypes,
# _curses, _decimal, _posixshmem, ossaudiodev, readline and test modules
# single-phase, and each init keeps objects of the interpreter that ran it
# (exceptions made with PyErr_NewException, _decimal's context variable
# and DecimalTuple), so none is. 3.12 made the standard ones multi-phase.
_STDLIB_SINGLE_SAFE = frozenset(())
# Single-phase standard modules that are refused like the others, but
# whose refusal needs no other mode: the standard library falls back to a
# pure-Python module by itself (decimal to _pydecimal on 3.11).
_STDLIB_PURE_FALLBACK = frozenset(("_decimal",))
_stdlib_dynload = os.path.join(os.path.dirname(os.__file__), "lib-dynload", "")


def _ext_reason(name, path):
    """Why the extension module name, from path, may not load here ("" if it may)."""
    if not isinstance(path, str):
        return ""
    try:
        st = os.stat(path)
    except OSError:
        return ""  # CPython reports the missing file itself
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
    e = _ext_verdicts.get(path)
    if e is not None and e[0] == stamp:
        return e[1]
    if path.startswith(_stdlib_dynload) and name in _STDLIB_SINGLE_SAFE:
        reason = ""
    else:
        reason = _ext_verdict(_EXT_GUARD, name, path) or ""
    _ext_verdicts[path] = (stamp, reason)
    return reason


def _guarded_create(self, spec):
    reason = _ext_reason(spec.name, spec.origin)
    if reason:
        text = ("warmcgi: %s is not safe in sub-interpreters (%s); run this script with "
                "--isolation fork/process/main, or let --isolation auto route it" % (spec.name, reason))
        if not (spec.name in _STDLIB_PURE_FALLBACK and spec.origin.startswith(_stdlib_dynload)):
            _move_now("imports %s (%s)" % (spec.name, reason), text)
        raise ImportError(text, name=spec.name, path=spec.origin)
    return _ext_create(self, spec)


def _install_extguard():
    # Every extension load goes through ExtensionFileLoader.create_module,
    # whichever finder found it (lazy loaders included), before its init:
    # the one place to judge it. Per interpreter: the class is this one's.
    if _EXT_GUARD and not _MAIN and not _REAL_PROCESS:
        _ExtensionFileLoader.create_module = _guarded_create
