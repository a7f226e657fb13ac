# Signals a script handles, sends to itself or sets alarms for, and the
# request time limit (--timeout) enforced by the watchdog below.
#
# Signal handlers are per request (76): SIGALRM is emulated with a timer
# that raises in the script's thread; other handlers are recorded (so
# signal.getsignal and a later os.kill of our own pid see them) but the
# server's real signals are Go's.
import errno
import signal
import sys
import threading
import time
try:
    import faulthandler
except ImportError:  # a Python built without it
    faulthandler = None

_signals = {}
_alarm = None  # (timer, deadline)
# The script's thread is inside signal.alarm or setitimer (F8): an alarm
# that comes due then waits for the call to return, as alarm() returns at
# once under CGI and the signal comes after it.
_arming = [False]


class _RequestTimeout(_EndRequest):
    """The request ran past --timeout (50): injected into the script."""

    code = 124
    why = "warmcgi-timeout: the request ran past its time limit"
    timed_out = True


class _Parked(BaseException):
    """Raised into the thread of a request the server has given up on: it
    ran past its time limit, swallowed the timeouts, and a new interpreter
    has taken this one's place (ph_park). Making the exception, which
    CPython does in that thread before any handler can catch it, puts the
    thread to sleep for good: it holds neither a core nor a GIL the other
    interpreters may share, and this interpreter is never used again."""

    def __init__(self, *args):
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


def _signal(signum, handler):
    signum = int(signum)
    if not 1 <= signum < signal.NSIG:
        raise ValueError("signal number out of range")
    if signum in (signal.SIGKILL, signal.SIGSTOP):
        raise OSError(errno.EINVAL, "Invalid argument")
    if not (callable(handler) or handler in (signal.SIG_DFL, signal.SIG_IGN)):
        raise TypeError("signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable object")
    old = _signals.get(signum, signal.SIG_DFL)
    _signals[signum] = handler
    if signum == signal.SIGALRM and callable(handler):
        _move_now("sets a SIGALRM handler (a shared process only emulates SIGALRM)")
    return old


def _getsignal(signum):
    return _signals.get(int(signum), signal.SIG_DFL)


def _fire_alarm(gen):
    global _alarm
    while _arming[0] and _gen == gen:
        time.sleep(0.0005)
    # It runs on its timer's thread: a timer replaced or cancelled as it
    # came due, or another request's, does nothing.
    if _gen != gen or _alarm is None or _alarm[0] is not threading.current_thread():
        return
    _alarm = None
    h = _signals.get(signal.SIGALRM, signal.SIG_DFL)
    if h == signal.SIG_IGN:
        return
    if h == signal.SIG_DFL:
        if _REAL_PROCESS:
            _os_kill(_pid, signal.SIGALRM)  # the worker dies, as the CGI process would
        _async_raise(_worker, _AlarmExpired)
        return
    # The handler runs here, on the timer's thread, with the script's
    # frame; what it raises is raised in the script's thread.
    try:
        h(signal.SIGALRM, _thread_frame(_worker))
    except BaseException as e:
        t = type(e)
        args = e.args
        carrier = type(t.__name__, (t,), {
            "__init__": lambda self, *a: t.__init__(self, *args),
            "__module__": t.__module__, "__qualname__": t.__qualname__})
        _async_raise(_worker, carrier)


def _set_alarm(seconds):
    global _alarm
    _arming[0] = True
    try:
        left = 0
        if _alarm is not None:
            _alarm[0].cancel()
            left = max(0, round(_alarm[1] - time.monotonic()))
            _alarm = None
        if seconds > 0 and _cur[1] is not None:
            t = threading.Timer(seconds, _fire_alarm, (_gen,))
            t.daemon = True
            t._warmcgi_internal = True
            _alarm = (t, time.monotonic() + seconds)
            t.start()
        return left
    finally:
        _arming[0] = False


def _alarm_fn(seconds):
    if seconds:
        _move_now("calls signal.alarm (it cannot interrupt a blocking call in a shared process)")
    return _set_alarm(int(seconds))


def _setitimer(which, seconds, interval=0.0):
    if which != signal.ITIMER_REAL:
        raise OSError(errno.EINVAL, "warmcgi: only ITIMER_REAL is emulated")
    if seconds:
        _move_now("calls signal.setitimer (it cannot interrupt a blocking call in a shared process)")
    left = 0.0
    if _alarm is not None:
        left = max(0.0, _alarm[1] - time.monotonic())
    _set_alarm(seconds)
    return (left, 0.0)


def _getitimer(which):
    if which == signal.ITIMER_REAL and _alarm is not None:
        return (max(0.0, _alarm[1] - time.monotonic()), 0.0)
    return (0.0, 0.0)


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


def _raise_signal(sig):
    if _cur[1] is not None:
        return _deliver(sig, sys._getframe(1))
    raise ValueError("signal only works in main thread of the main interpreter")


def _faulthandler_enable(*args, **kwargs):
    # Fatal-signal handlers are process-wide and Go's (77): a no-op.
    return None


_faulthandler_enable_orig = faulthandler.enable if faulthandler is not None else None


# The request time limit (50): one watchdog thread per interpreter raises
# _RequestTimeout in the script's thread once the deadline passes, and
# again every second while the script swallows it, until the server gives
# up on the request (ph_park): then it parks the thread (_Parked), once.
# Starting a request only stores its deadline; the watchdog wakes a few
# times per limit.
_deadline = [0.0, 0]  # monotonic deadline (0: none), request generation
_watch_stop = [False]
_watch_cv = threading.Condition()


def _watchdog():
    parked = 0  # the generation of the request parked, if any
    while not _watch_stop[0]:
        d, gen = _deadline
        now = time.monotonic()
        if not d or gen != _gen or parked == gen:
            wait = _TIMEOUT / 4
        elif now < d:
            wait = min(d - now, _TIMEOUT / 4) + 0.01
        elif _parked():
            _async_raise(_worker, _Parked)
            parked = gen
            wait = _TIMEOUT / 4
        else:
            _async_raise(_worker, _RequestTimeout)
            _deadline[0] = now + 1.0
            wait = 1.0
        with _watch_cv:
            if not _watch_stop[0]:
                _watch_cv.wait(wait)


def _install_signals():
    signal.raise_signal = _raise_signal
    signal.signal = _signal
    signal.getsignal = _getsignal
    signal.alarm = _alarm_fn
    signal.setitimer = _setitimer
    signal.getitimer = _getitimer
    if faulthandler is not None:
        faulthandler.enable = _faulthandler_enable


def _install_watchdog():
    global _watcher
    if _TIMEOUT > 0:
        _watcher = threading.Thread(target=_watchdog, name="warmcgi-watchdog", daemon=True)
        _watcher._warmcgi_internal = True
        _watcher.start()
