# ---------------------------------------------------------------------
# What a CGI process does to itself must end only the request, never the
# server (cases 46-49, 76, 79, 80, 85-88). These are module attributes,
# replaced once per interpreter; each acts on the current request.

_os_exit = os._exit
_os_kill = os.kill
_os_killpg = os.killpg
_os_write = os.write
_os_read = os.read
_os_close = os.close
_os_dup2 = os.dup2
_os_dup = os.dup
_io_open = io.open


class _EndRequest(BaseException):
    """Ends the request the way the death of a CGI process would."""

    code = 1
    why = "request ended"

    def __init__(self, code=None, why=None):
        BaseException.__init__(self, why or self.why)
        if code is not None:
            self.code = code
        if why is not None:
            self.why = why


class _RequestTimeout(_EndRequest):
    """The request ran past --timeout (50): injected into the script."""

    code = 124
    why = "warmcgi-timeout: the request ran past its time limit"


class _Parked(BaseException):
    """Raised into the thread of a request the server has given up on: it
    ran past its time limit, swallowed the timeouts, and a new interpreter
    has taken this one's place (ph_park). Making the exception, which
    CPython does in that thread before any handler can catch it, puts the
    thread to sleep for good: it holds neither a core nor a GIL the other
    interpreters may share, and this interpreter is never used again."""

    def __init__(self, *args):
        import time
        while True:
            try:
                time.sleep(3600)
            except BaseException:
                pass  # an emulated signal's exception must not wake it


class _AlarmExpired(_EndRequest):
    """SIGALRM with no handler: a CGI process would be killed by it."""

    code = 128 + signal.SIGALRM
    why = "killed by SIGALRM (signal.alarm expired with no handler)"


class _Dropped(BaseException):
    """Raised and caught in the worker's thread as a request ends (_drop_async)."""


def _drop_async():
    # A timer or timeout that fired as the script ended left an exception
    # pending for the worker's thread: it is dropped. Before 3.13 clearing
    # it leaves the interpreter flagged as having one (pyhost.c,
    # async_raise), and only raising one lowers the flag: one of ours,
    # caught here.
    if _async_raise(_worker, None) and sys.version_info < (3, 13):
        try:
            _async_raise(_worker, _Dropped)
            for _ in range(100):
                pass
        except _Dropped:
            pass


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


def _deliver(sig, frame):
    """Act on a signal a script sent to its own process."""
    sig = int(sig)
    h = _signals.get(sig, signal.SIG_DFL)
    if callable(h):
        h(sig, frame)
        return
    if h == signal.SIG_IGN or sig == 0:
        return
    if sig in (signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT):
        return  # ignored by default
    if sig in (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        raise PermissionError(errno.EPERM, "warmcgi: a script cannot stop the server")
    _end_request(128 + sig, "killed by %s" % signal.Signals(sig).name)


def _kill(pid, sig):
    if _cur[1] is not None and _own(pid):
        return _deliver(sig, sys._getframe(1))
    return _os_kill(pid, sig)


def _killpg(pgid, sig):
    if _cur[1] is not None and pgid in (0, os.getpgrp()):
        return _deliver(sig, sys._getframe(1))
    return _os_killpg(pgid, sig)



def _raise_signal(sig):
    if _cur[1] is not None:
        return _deliver(sig, sys._getframe(1))
    raise ValueError("signal only works in main thread of the main interpreter")


def _refuse(what, hint):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EPERM, "warmcgi: %s is not available to scripts in subinterp mode: %s" % (what, hint))
    refused.__name__ = what.split(".")[-1].split("(")[0]
    return refused


_PROCESS_HINT = "it would change the whole server; run this script in process mode or as plain CGI (--cgi GLOB)"


def _fork():
    raise RuntimeError("warmcgi: os.fork() is not available to scripts in subinterp mode "
                       "(the server is a multi-threaded Go process); use subprocess, or "
                       "run this script as plain CGI (--cgi GLOB)")


os._exit = _exit
os.abort = _abort
os.kill = _kill
os.killpg = _killpg
os.fork = _fork
if hasattr(os, "forkpty"):
    os.forkpty = _fork
for _name in ("setuid", "seteuid", "setreuid", "setresuid", "setgid", "setegid", "setregid",
              "setresgid", "setgroups", "initgroups", "chroot", "setsid", "setpgrp", "nice"):
    if hasattr(os, _name):
        setattr(os, _name, _refuse("os." + _name + "()", _PROCESS_HINT))
try:
    import resource
    _resource_setrlimit = resource.setrlimit
    resource.setrlimit = _refuse("resource.setrlimit()", _PROCESS_HINT)
except ImportError:
    pass
signal.raise_signal = _raise_signal

