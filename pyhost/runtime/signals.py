# Signal handlers are per request (76): SIGALRM is emulated with a timer
# that raises in the script's thread; other handlers are recorded (so
# signal.getsignal and a later os.kill of our own pid see them) but the
# server's real signals are Go's.
_signals = {}
_alarm = None  # (timer, deadline)
# The script's thread is inside signal.alarm or setitimer (F8): an alarm
# that comes due then waits for the call to return, as alarm() returns at
# once under CGI and the signal comes after it.
_arming = [False]


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
    return old


def _getsignal(signum):
    return _signals.get(int(signum), signal.SIG_DFL)


def _fire_alarm(gen):
    global _alarm
    import time
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
    import time
    _arming[0] = True
    try:
        left = 0
        if _alarm is not None:
            _alarm[0].cancel()
            left = max(0, round(_alarm[1] - time.monotonic()))
            _alarm = None
        if seconds > 0 and _cur[1] is not None:
            import threading
            t = threading.Timer(seconds, _fire_alarm, (_gen,))
            t.daemon = True
            t._warmcgi_internal = True
            _alarm = (t, time.monotonic() + seconds)
            t.start()
        return left
    finally:
        _arming[0] = False


def _alarm_fn(seconds):
    return _set_alarm(int(seconds))


def _setitimer(which, seconds, interval=0.0):
    if which != signal.ITIMER_REAL:
        raise OSError(errno.EINVAL, "warmcgi: only ITIMER_REAL is emulated")
    import time
    left = 0.0
    if _alarm is not None:
        left = max(0.0, _alarm[1] - time.monotonic())
    _set_alarm(seconds)
    return (left, 0.0)


def _getitimer(which):
    import time
    if which == signal.ITIMER_REAL and _alarm is not None:
        return (max(0.0, _alarm[1] - time.monotonic()), 0.0)
    return (0.0, 0.0)


signal.signal = _signal
signal.getsignal = _getsignal
signal.alarm = _alarm_fn
signal.setitimer = _setitimer
signal.getitimer = _getitimer


def _faulthandler_enable(*args, **kwargs):
    # Fatal-signal handlers are process-wide and Go's (77): a no-op.
    return None


try:
    import faulthandler
    _faulthandler_enable_orig = faulthandler.enable
    faulthandler.enable = _faulthandler_enable
except ImportError:
    pass

