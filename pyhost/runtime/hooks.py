# Threads (73): non-daemon threads a request starts keep it open, as they
# keep a CGI process alive, up to a bound.
_THREAD_JOIN_TIMEOUT = 30.0
_threads_left = [False]
_thread_start = threading.Thread.start
_started = []


def _start(self):
    if _cur[1] is not None and not getattr(self, "_warmcgi_internal", False):
        self._warmcgi_request = True
        _started.append(self)
        sinks = list(_cur)
        run = self.run

        def run_with_sinks():
            ident = _thread.get_ident()
            _thread_sinks[ident] = sinks
            try:
                run()
            finally:
                _thread_sinks.pop(ident, None)
        self.run = run_with_sinks
    return _thread_start(self)


threading.Thread.start = _start
_orig_main_thread = threading.main_thread()
# The worker thread is a foreign thread to threading (a _DummyThread,
# daemonic on 3.13): threads a script starts inherit daemon=False from the
# main thread of a CGI process, so they must from the worker too.
if getattr(threading.current_thread(), "_daemonic", False):
    threading.current_thread()._daemonic = False

# atexit (74): handlers registered during a request run at its end.
import atexit
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
import logging
_add_handler = logging.Logger.addHandler
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
        _added_handlers.append((self, hdlr))
    return _add_handler(self, hdlr)


logging.Logger.addHandler = _addHandler
# Levels the script's code sets (a script's own logger is always
# "__main__", shared by every script) are put back too.
_set_level = logging.Logger.setLevel
_changed_levels = {}  # logger -> its level before the request changed it


def _setLevel(self, level):
    if _cur[1] is not None and self not in _changed_levels and _user_caller():
        _changed_levels[self] = self.level
    return _set_level(self, level)


logging.Logger.setLevel = _setLevel

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


# Imported now, so that its seed is watched from the first request on: a
# script that imports it first and seeds it must not fix the next
# request's numbers (F5).
import random
_patch_random()


# locale (58): setlocale is process-wide; a change is undone after the
# request (other concurrent requests may see it meanwhile: documented).
import locale
_setlocale = locale.setlocale
_locale_changed = [False]
_base_locale = _setlocale(locale.LC_ALL)


def _setlocale_wrapper(category, loc=None):
    if loc is not None:
        _locale_changed[0] = True
    return _setlocale(category, loc)


locale.setlocale = _setlocale_wrapper

import warnings
_base_filters = list(warnings.filters)
_base_meta_path = list(sys.meta_path)
_base_path_hooks = list(sys.path_hooks)
_base_recursion = sys.getrecursionlimit()
_base_dont_write = sys.dont_write_bytecode
_base_root_level = logging.root.level
_base_umask = os.umask(0o022)
os.umask(_base_umask)
_base_switch = sys.getswitchinterval()
import gc
_base_gc_threshold = gc.get_threshold()
# 3.11's sub-interpreters start with no limit on int/str conversions (0);
# a CGI process, and the main interpreter, have the default (CVE-2020-10735).
if sys.get_int_max_str_digits() == 0:
    sys.set_int_max_str_digits(sys.int_info.default_max_str_digits)
_base_max_digits = sys.get_int_max_str_digits()
_CSV_FIELD_LIMIT = 128 * 1024  # csv.field_size_limit() in a new process
_tempdir_default = [None]  # what tempfile.gettempdir() found here first
_sqlite_base = []  # sqlite3's own adapters and converters (_restore_sqlite)
_base_builtins = {}  # what builtins holds once the runtime is installed (end of file)
_base_items = ()  # the same as a flat tuple (name, object, ...), for _same_items
_builtins_version = [-1]  # _dict_version of builtins when it last held just those
_gen = 0

# codecs.register (F4): search functions a request adds are removed at its
# end, as its process would have taken them along.
import codecs
_codecs_register = codecs.register
_added_codecs = []


def _register_codec(search_function):
    if _cur[1] is not None:
        _added_codecs.append(search_function)
    return _codecs_register(search_function)


codecs.register = _register_codec


