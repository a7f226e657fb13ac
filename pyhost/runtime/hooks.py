# What a request's own code registers with the standard library and
# would take along when its CGI process ended: threads, atexit handlers,
# logging handlers and levels, random seeds, the locale and codec search
# functions. Each is recorded here and undone by state.py.
import atexit
import codecs
import locale
import logging
import random  # at start-up, for _patch_random to watch its seed from the first request (F5)
import sys
import threading
import weakref
import _thread

# Threads (73): non-daemon threads a request starts keep it open, as they
# keep a CGI process alive, up to a bound.
_THREAD_JOIN_TIMEOUT = 30.0
_threads_left = [False]
_thread_start = threading.Thread.start
# Weak references (see fds.py's _opened): a running thread is held by
# threading itself, and a finished one the script dropped must die with
# what it holds, as in CGI.
_started = set()


def _start(self):
    if _cur[1] is not None and not getattr(self, "_warmcgi_internal", False):
        self._warmcgi_request = True
        _started.add(weakref.ref(self, _started.discard))
        sinks = list(_cur)
        run = self.run

        def run_with_sinks():
            ident = _thread.get_ident()
            _thread_sinks[ident] = sinks
            try:
                run()
            finally:
                _thread_sinks.pop(ident, None)
                # The wrapper holds the thread (self.run is bound to it):
                # dropped, so a finished thread is not kept by a cycle.
                self.__dict__.pop("run", None)
        self.run = run_with_sinks
    return _thread_start(self)


_orig_main_thread = threading.main_thread()


# atexit (74): handlers registered during a request run at its end.
_atexit_register = atexit.register
_atexit_unregister = atexit.unregister
_exit_funcs = []


def _register(func, *args, **kwargs):
    # Only the script's own code: a library imported during a request
    # registers for the interpreter's exit, as it would anywhere.
    if _cur[1] is None or not _script_code(sys._getframe(1).f_code.co_filename):
        return _atexit_register(func, *args, **kwargs)
    _exit_funcs.append((func, args, kwargs))
    return func


def _unregister(func):
    _exit_funcs[:] = [e for e in _exit_funcs if e[0] != func]
    _atexit_unregister(func)


atexit.register = _register
atexit.unregister = _unregister


def _run_exit_funcs():
    while _exit_funcs:
        func, args, kwargs = _exit_funcs.pop()
        try:
            func(*args, **kwargs)
        except SystemExit:
            pass
        except BaseException as e:
            print("Exception ignored in atexit callback:", repr(func), file=sys.stderr)
            sys.__excepthook__(type(e), e, e.__traceback__)


# logging (65; issue 15, item 8): the logging tree as the request found it
# is put back as it ends, whoever changed it (the script, basicConfig, a
# framework's dictConfig, fileConfig called by a library): each logger's
# level, handlers, filters, propagate and disabled flags, and logging's
# registry of handlers. The first change a request makes records the tree
# (_record_log_tree); loggers the request made are left as new ones; the
# handlers it made are closed (state.py, _restore_log_tree). Nothing of the
# request's is held meanwhile: a handler it removed and dropped dies at once.
_log_tree = [None]  # (loggers' states, handlers by name, handler list) or None


def _record_log_tree():
    if _log_tree[0] is not None or _cur[1] is None:
        return
    mgr = logging.root.manager
    loggers = [logging.root] + [lg for lg in list(mgr.loggerDict.values()) if isinstance(lg, logging.Logger)]
    _log_tree[0] = ([(lg, lg.level, lg.handlers[:], lg.filters[:], lg.propagate, lg.disabled) for lg in loggers],
                    dict(logging._handlers), logging._handlerList[:])


def _records_log_tree(orig):
    def changes_tree(*args, **kwargs):
        _record_log_tree()
        return orig(*args, **kwargs)
    changes_tree.__name__ = orig.__name__
    changes_tree.__qualname__ = getattr(orig, "__qualname__", orig.__name__)
    changes_tree.__doc__ = orig.__doc__
    changes_tree.__wrapped__ = orig
    return changes_tree


def _wrap_logging_config(m):
    """logging.config's functions clear every handler before they call a
    logger's method: the tree is recorded first."""
    for name in ("fileConfig", "dictConfig", "_clearExistingHandlers"):
        f = getattr(m, name, None)
        if f is not None and not hasattr(f, "__wrapped__"):
            setattr(m, name, _records_log_tree(f))


# random (67): a CGI process is seeded from urandom; a script's
# random.seed(42) must not make the next request's numbers predictable.
_seeded = [False]


_patched_seed = [None]  # the wrapper last installed: checked by identity, per request


def _patch_random():
    r = sys.modules.get("random")
    if r is None:
        return
    s = r.seed
    if s is _patched_seed[0] or getattr(s, "_warmcgi", False):
        return
    orig = s

    def seed(*args, **kwargs):
        _seeded[0] = True
        return orig(*args, **kwargs)
    seed._warmcgi = True
    r.seed = _patched_seed[0] = seed


# locale (58): setlocale is process-wide; a change is undone after the
# request (other concurrent requests may see it meanwhile: documented).
_setlocale = locale.setlocale
_locale_changed = [False]
_base_locale = _setlocale(locale.LC_ALL)


def _setlocale_wrapper(category, loc=None):
    if loc is not None:
        _locale_changed[0] = True
    return _setlocale(category, loc)


# codecs.register (F4): search functions a request adds are removed at its
# end, as its process would have taken them along.
_codecs_register = codecs.register
_added_codecs = []


def _register_codec(search_function):
    if _cur[1] is not None:
        _added_codecs.append(search_function)
    return _codecs_register(search_function)


def _install_threads():
    threading.Thread.start = _start
    # The worker thread is a foreign thread to threading (a _DummyThread,
    # daemonic on 3.13): threads a script starts inherit daemon=False from the
    # main thread of a CGI process, so they must from the worker too.
    if getattr(threading.current_thread(), "_daemonic", False):
        threading.current_thread()._daemonic = False


def _install_atexit():
    atexit.register = _register
    atexit.unregister = _unregister


def _install_logging():
    for name in ("addHandler", "removeHandler", "setLevel", "addFilter", "removeFilter"):
        setattr(logging.Logger, name, _records_log_tree(getattr(logging.Logger, name)))
    logging.basicConfig = _records_log_tree(logging.basicConfig)
    m = sys.modules.get("logging.config")
    if m is not None:
        _wrap_logging_config(m)


def _install_locale():
    locale.setlocale = _setlocale_wrapper


def _install_codecs():
    codecs.register = _register_codec
