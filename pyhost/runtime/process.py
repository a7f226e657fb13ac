# What a CGI process does to itself must end only the request, never the
# server (cases 46-49, 76, 79, 80, 85-88). These are module attributes,
# replaced once per interpreter; each acts on the current request.
import errno
import os
import signal
import sys
import time
try:
    import resource
except ImportError:  # not on every platform
    resource = None

# What the emulation below replaces in os and signal, kept for process
# mode, where the real calls are the right ones.
_os_orig = dict(vars(os))
_signal_orig = dict(vars(signal))
_pid = os.getpid()
_os_exit = os._exit
_os_kill = os.kill
_os_killpg = os.killpg
_resource_setrlimit = resource.setrlimit if resource is not None else None


class _EndRequest(BaseException):
    """Ends the request the way the death of a CGI process would."""

    code = 1
    why = "request ended"
    timed_out = False  # the request ran past --timeout (ph_result.timed_out)

    def __init__(self, code=None, why=None):
        BaseException.__init__(self, why or self.why)
        if code is not None:
            self.code = code
        if why is not None:
            self.why = why


_unbuffered = [False]  # python -u: nothing is ever left unflushed


def _lose_unflushed():
    # A dying CGI process loses what sat in its 8 KiB stdout buffer.
    s = _cur[1]
    if s is not None and not _unbuffered[0]:
        keep = s.mark + (len(s.buf) - s.mark) // 8192 * 8192
        del s.buf[keep:]


def _end_request(code, why):
    _lose_unflushed()
    for s in (_cur[1], _cur[2]):
        if s is not None:
            s.closed = True
    raise _EndRequest(code, why)


def _exit(status):
    _end_request(int(status), "os._exit(%d)" % int(status))


def _abort():
    _end_request(128 + signal.SIGABRT, "os.abort()")


def _own(pid):
    return pid in (0, -1, os.getpid(), -os.getpgrp())


def _kill(pid, sig):
    if _cur[1] is not None and _own(pid):
        return _deliver(sig, sys._getframe(1))
    return _os_kill(pid, sig)


def _killpg(pgid, sig):
    if _cur[1] is not None and pgid in (0, os.getpgrp()):
        return _deliver(sig, sys._getframe(1))
    return _os_killpg(pgid, sig)


def _refuse(what, hint):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EPERM, "warmcgi: %s is not available to scripts in subinterp mode: %s" % (what, hint))
    refused.__name__ = what.split(".")[-1].split("(")[0]
    return refused


_PROCESS_HINT = "it would change the whole server; run this script in process mode or as plain CGI (--cgi GLOB)"


def _fork():
    _move_now("calls os.fork (refused in a shared process)")
    raise RuntimeError("warmcgi: os.fork() is not available to scripts in subinterp mode "
                       "(the server is a multi-threaded Go process); use subprocess, or "
                       "run this script as plain CGI (--cgi GLOB)")


_tzset_orig = time.tzset
_server_tz = os.environ.get("TZ")


_same_zone = {}  # TZ value -> whether it names the server's own zone


def _zone_data(tz):
    """The TZif data a TZ value names (None for a POSIX rule or no file)."""
    if tz is None or tz in ("", ":"):
        path = "/etc/localtime"
    else:
        name = tz[1:] if tz.startswith(":") else tz
        path = name if name.startswith("/") else os.path.join("/usr/share/zoneinfo", name)
    try:
        with open(path, "rb") as f:
            return f.read()
    except (OSError, ValueError):
        return None


def _server_zone(tz):
    """Whether TZ=tz gives the time zone the server already has: the same
    value, or a zone file with the same data as the server's (Django sets
    TZ=UTC on every request; on a server in UTC that changes nothing)."""
    if tz == _server_tz:
        return True
    same = _same_zone.get(tz)
    if same is None:
        mine, theirs = _zone_data(_server_tz), _zone_data(tz)
        if mine is None and _server_tz is None and tz in ("UTC", "Etc/UTC", "UTC0", "Universal", "Zulu"):
            mine = theirs  # no /etc/localtime: the C library's zone is UTC
        same = _same_zone[tz] = mine is not None and mine == theirs
    return same


def _tzset():
    tz = os.environ.get("TZ")
    if not _server_zone(tz):
        _move_now("calls time.tzset with TZ=%s (the server's time zone is the process's)" % tz)
    return _tzset_orig()


def _install_process():
    os._exit = _exit
    os.abort = _abort
    os.kill = _kill
    os.killpg = _killpg
    os.fork = _fork
    if hasattr(os, "forkpty"):
        os.forkpty = _fork
    for name in ("setuid", "seteuid", "setreuid", "setresuid", "setgid", "setegid", "setregid",
                 "setresgid", "setgroups", "initgroups", "chroot", "setsid", "setpgrp", "nice"):
        if hasattr(os, name):
            setattr(os, name, _refuse("os." + name + "()", _PROCESS_HINT))
    if resource is not None:
        refused = _refuse("resource.setrlimit()", _PROCESS_HINT)

        def setrlimit(*args, **kwargs):
            _move_now("calls resource.setrlimit (refused in a shared process)")
            return refused(*args, **kwargs)
        resource.setrlimit = setrlimit
    # time.tzset works on the process's C environment, which requests do not
    # change here: one with another TZ than the server's needs its own process.
    time.tzset = _tzset
