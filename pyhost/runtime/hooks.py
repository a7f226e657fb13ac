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


# logging (65): handlers a request's own code adds are closed and removed
# at its end; levels and logging.disable are restored.
_add_handler = logging.Logger.addHandler
# (logger, weak reference to a handler): a handler the script removed and
# dropped dies at once with its stream, as it would in its CGI process.
_added_handlers = []


def _user_caller():
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if _script_code(name):
            return True
        if "logging" not in name:
            return False
        f = f.f_back
    return False


def _addHandler(self, hdlr):
    if _cur[1] is not None and _user_caller():
        try:
            ref = weakref.ref(hdlr)
        except TypeError:
            ref = (lambda h: lambda: h)(hdlr)  # held by the logger anyway
        _added_handlers.append((self, ref))
    return _add_handler(self, hdlr)


# Levels the script's code sets (a script's own logger is always
# "__main__", shared by every script) are put back too.
_set_level = logging.Logger.setLevel
_changed_levels = {}  # logger -> its level before the request changed it


def _setLevel(self, level):
    if _cur[1] is not None and self not in _changed_levels and _user_caller():
        _changed_levels[self] = self.level
    return _set_level(self, level)


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
    logging.Logger.addHandler = _addHandler
    logging.Logger.setLevel = _setLevel


def _install_locale():
    locale.setlocale = _setlocale_wrapper


def _install_codecs():
    codecs.register = _register_codec
