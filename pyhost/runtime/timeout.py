# The request time limit (50): one watchdog thread per interpreter raises
# _RequestTimeout in the script's thread once the deadline passes, and
# again every second while the script swallows it, until the server gives
# up on the request (ph_park): then it parks the thread (_Parked), once.
# Starting a request only stores its deadline; the watchdog wakes a few
# times per limit.
from time import monotonic as _monotonic
_deadline = [0.0, 0]  # monotonic deadline (0: none), request generation
_watch_stop = [False]
_watch_cv = threading.Condition()


def _watchdog():
    import time
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


# Preloaded modules (83): imported once per interpreter at start-up (before any
# thread of the runtime starts: a failure ends the interpreter cleanly), so
# the first requests do not pay for them; stdlib and site-packages modules
# stay loaded under --modules purge as well.
for _name in _PRELOAD:
    __import__(_name)

if _TIMEOUT > 0:
    _watcher = threading.Thread(target=_watchdog, name="warmcgi-watchdog", daemon=True)
    _watcher._warmcgi_internal = True
    _watcher.start()

# cgi.escape (93): removed in 3.8 and still everywhere in old scripts;
# defined, with its 3.7 behaviour, only when asked for (--cgi-escape).
if _CGI_ESCAPE:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import cgi
    if not hasattr(cgi, "escape"):
        if hasattr(cgi, "_install_escape_shim"):
            cgi._install_escape_shim()  # warmcgi's own cgi (3.13+)
        else:
            def _escape(s, quote=None):
                """Replace &, < and > in s by HTML-safe sequences; '"' too if quote."""
                import html
                out = html.escape(s, quote=False)
                return out.replace('"', "&quot;") if quote else out
            _escape.__module__ = "cgi"
            _escape.__name__ = "escape"
            cgi.escape = _escape

