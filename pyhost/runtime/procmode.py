# Process mode (--isolation process): this interpreter is alone in its
# worker process and runs one request at a time, so what a CGI process
# does to itself is real again: fds 0-2, the C environment (children and
# C code see it), os._exit, os.abort, os.fork, os.exec*, os.system and
# subprocess. The worker process dies or is replaced instead of the
# request being emulated. Signal handlers stay emulated (the real ones
# belong to the Go runtime): os.kill of the worker itself is delivered to
# a handler the script installed, and is real otherwise. The per-request
# reset (fresh __main__, module purge, atexit, threads, logging, locale)
# stays as in the other modes.
import builtins
import io
import os
import signal
import subprocess
import sys
import threading

# The C environment is the request's already: the worker sets it whole
# before each request (pyhost.SetEnviron), as execve would, and os.putenv
# and os.unsetenv are the real ones.


def _handled(sig):
    h = _signals.get(int(sig), signal.SIG_DFL)
    return callable(h) or h == signal.SIG_IGN


def _proc_kill(pid, sig):
    if _cur[1] is not None and _own(pid) and _handled(sig):
        return _deliver(sig, sys._getframe(1))
    return _os_kill(pid, sig)


def _proc_killpg(pgid, sig):
    if _cur[1] is not None and pgid in (0, os.getpgrp()) and _handled(sig):
        return _deliver(sig, sys._getframe(1))
    return _os_killpg(pgid, sig)


def _proc_raise_signal(sig):
    if _cur[1] is not None and _handled(sig):
        return _deliver(sig, sys._getframe(1))
    return _signal_orig["raise_signal"](sig)


def _main_interpreter():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            m = __import__(name)
            return m.get_current() == m.get_main()
        except Exception:
            pass
    return False


def _proc_fork():
    if _main_interpreter():
        return _os_orig["fork"]()  # CPython's own fork, with its after-fork hooks
    # In a sub-interpreter CPython's fork either refuses or, on 3.11, kills
    # the child (its after-fork code deletes every interpreter but the
    # main one): fork the process below Python instead.
    import ctypes  # lazy: only a forking script in a sub-interpreter needs it
    libc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the GIL is held across fork
    libc.fork.restype = ctypes.c_int
    libc.fork.argtypes = ()
    pid = libc.fork()
    if pid < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    if pid == 0:
        # What CPython's after-fork hooks would do for the modules that
        # matter here: only this thread lives on, and random must not
        # repeat the parent's numbers.
        try:
            threading._after_fork()
        except Exception:
            pass
        r = sys.modules.get("random")
        if r is not None:
            r.seed()
    return pid


def _proc_child_exit(code, err):
    """A forked child ran off the end of the script: exit as python3 would
    (atexit handlers, non-daemon threads, flushed stdio), never returning
    into the worker, whose Go runtime did not survive the fork."""
    try:
        _run_exit_funcs()
        threading._shutdown()
    except BaseException:
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass
    if err.buf:
        try:
            _os_orig["write"](2, bytes(err.buf))
        except OSError:
            pass
    _os_exit(code & 0xFF)


def _proc_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True, opener=None):
    return _track_opened(_io_open(file, mode, buffering, encoding, errors, newline, closefd, opener))


def _proc_end(unbuffered):
    """The script is done: flush its streams (exit would), then detach fds
    0-2 from the request, so the server sees EOF on its pipes unless a
    child still holds them, as under CGI."""
    std = _real_std.get(unbuffered, ())
    for f in std[1:]:
        try:
            f.flush()
        except BaseException:
            pass
    _cflush()  # then C's stdio, as exit() sends it after Py_Finalize (module.c)
    null = _os_open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        _os_dup2(null, fd)
    if null > 2:  # one the script closed: it is /dev/null's place now
        _os_close(null)
    if std:
        # What a failed flush left in a writer (the client went away
        # mid-stream) was this request's and dies with it, as with a CGI
        # process: it goes to /dev/null, never into the next request.
        for i in (1, 2):
            try:
                std[i].flush()
            except BaseException:
                std[i] = None
        # What stdin read ahead of the script belongs to this request.
        try:
            std[0].read()
        except BaseException:
            std[0] = None


def _install_procmode():
    if not _REAL_PROCESS:
        return
    for name in ("_exit", "abort", "fork", "forkpty", "write", "read", "close", "closerange", "dup", "dup2",
                 "system", "execv", "execve", "_spawnvef", "setuid", "seteuid", "setreuid", "setresuid",
                 "setgid", "setegid", "setregid", "setresgid", "setgroups", "initgroups", "chroot",
                 "setsid", "setpgrp", "nice"):
        if name in _os_orig:
            setattr(os, name, _os_orig[name])
    os.putenv = _os_orig["putenv"]
    os.unsetenv = _os_orig["unsetenv"]
    os.kill = _proc_kill
    os.killpg = _proc_killpg
    os.fork = _proc_fork
    signal.raise_signal = _proc_raise_signal
    builtins.open = io.open = _proc_open
    subprocess.Popen.__init__ = _popen_init
    subprocess.Popen.wait = _popen_wait
    if resource is not None:
        resource.setrlimit = _resource_setrlimit
    if faulthandler is not None:
        faulthandler.enable = _faulthandler_enable_orig
