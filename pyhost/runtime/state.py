# Putting the interpreter back after each request: what one request did
# to the interpreter-wide state is undone before the next (63-69, 73-75,
# 23, F4), to the baseline recorded once the runtime is installed.
import codecs
import gc
import locale
import logging
import os
import sys
import threading
import warnings

# The interpreter-wide settings as the runtime leaves them, the state every
# request's changes are undone to: recorded by _record_base as the
# runtime is installed; modules' own state is put back by _modules_end,
# below.
_base_filters = []
_base_meta_path = []
_base_path_hooks = []
_base_recursion = 0
_base_dont_write = False
_base_root_level = 0
_base_umask = 0
_base_switch = 0.0
_base_gc_threshold = ()
_base_max_digits = 0
_CSV_FIELD_LIMIT = 128 * 1024  # csv.field_size_limit() in a new process
_tempdir_default = [None]  # what tempfile.gettempdir() found here first
_sqlite_base = []  # sqlite3's own adapters and converters (_restore_sqlite)


# os.umask is process-wide: a request that sets it is put back after it.
# Reading the mask takes two system calls, so the runtime counts the calls
# instead (os.umask and posix.umask; C code calling umask() is not seen).
_os_umask = os.umask
_umask_set = [False]


def _umask(mask):
    _umask_set[0] = True
    return _os_umask(mask)


_umask.__name__ = _umask.__qualname__ = "umask"
_umask.__doc__ = _os_umask.__doc__


def _install_umask():
    import posix
    os.umask = posix.umask = _umask


def _record_base():
    """Record the settings every request is put back to: after the
    runtime's finders are on sys.meta_path, before any preloaded module."""
    global _base_filters, _base_meta_path, _base_path_hooks, _base_recursion, _base_dont_write
    global _base_root_level, _base_umask, _base_switch, _base_gc_threshold, _base_max_digits
    _base_filters = list(warnings.filters)
    _base_meta_path = list(sys.meta_path)
    _base_path_hooks = list(sys.path_hooks)
    _base_recursion = sys.getrecursionlimit()
    _base_dont_write = sys.dont_write_bytecode
    _base_root_level = logging.root.level
    _base_umask = _os_umask(0o022)
    _os_umask(_base_umask)
    _base_switch = sys.getswitchinterval()
    _base_gc_threshold = gc.get_threshold()
    # 3.11's sub-interpreters start with no limit on int/str conversions (0);
    # a CGI process, and the main interpreter, have the default (CVE-2020-10735).
    if sys.get_int_max_str_digits() == 0:
        sys.set_int_max_str_digits(sys.int_info.default_max_str_digits)
    _base_max_digits = sys.get_int_max_str_digits()


def _restore_log_tree(keeping):
    """Put the logging tree back as the request found it (hooks.py)."""
    tree, _log_tree[0] = _log_tree[0], None
    if keeping:
        return
    loggers, by_name, handler_list = tree
    mgr = logging.root.manager
    now = [logging.root] + [lg for lg in list(mgr.loggerDict.values()) if isinstance(lg, logging.Logger)]
    attached = {id(h): h for lg in now for h in lg.handlers}
    kept = set()
    for lg, level, handlers, filters, propagate, disabled in loggers:
        lg.level, lg.propagate, lg.disabled = level, propagate, disabled
        lg.handlers[:] = handlers
        lg.filters[:] = filters
        kept.update(id(h) for h in handlers)
    known = {id(entry[0]) for entry in loggers}
    for lg in now:
        if id(lg) not in known:  # made by the request: as a new one
            lg.level, lg.propagate, lg.disabled = logging.NOTSET, True, False
            lg.handlers[:] = []
            lg.filters[:] = []
    logging._handlers.clear()
    logging._handlers.update(by_name)
    logging._handlerList[:] = handler_list
    mgr._clear_cache()
    for i, h in attached.items():
        if i not in kept:
            try:
                h.close()
            except Exception:
                pass


def _stop_executors(cft, started):
    # A ThreadPoolExecutor the script left open keeps its worker threads
    # waiting for more work. A CGI process's exit shuts it down (its
    # threads finish what was submitted, then end), and so does the end of
    # the request; otherwise the join below would wait out its bound.
    for t in started:
        if t.is_alive() and getattr(t, "_target", None) is cft._worker and getattr(t, "_args", None):
            ex = t._args[0]()
            if isinstance(ex, cft.ThreadPoolExecutor):
                ex.shutdown(wait=False)


def _reset_state(err):
    """Undo what one request did to the interpreter (63-69, 73-75, 23)."""
    global _alarm
    if _alarm is not None:
        _alarm[0].cancel()
        _alarm = None
    _signals.clear()
    # The threads still there, held strongly only while the request ends.
    started = [t for t in (r() for r in _started) if t is not None] if _started else []
    _started.clear()
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None and started:
        _stop_executors(cft, started)
    for t in started:
        if not t.daemon and t.is_alive():
            try:
                t.join(_THREAD_JOIN_TIMEOUT)
            except _EndRequest:
                pass  # an emulated signal arriving late: the join goes on below
            if t.is_alive():
                t.join(_THREAD_JOIN_TIMEOUT)
            if t.is_alive():
                err.buf += ("warmcgi: thread %r still running %gs after the script ended; "
                            "its later output goes to the server log\n" % (t.name, _THREAD_JOIN_TIMEOUT)).encode()
    # A thread still running (a daemon, or one past the join bound) would
    # die with a CGI process; a worker process ends after the request for
    # it to do so (process mode).
    _threads_left[0] = bool(started) and any(t.is_alive() for t in started)
    del started
    _children.clear()
    _run_exit_funcs()
    # With --modules keep or --globals keep, what the script's code set up
    # is meant to last: its files are only flushed, its handlers stay.
    keeping = _MODULES == "keep" or _GLOBALS == "keep"
    if _log_tree[0] is not None:
        _restore_log_tree(keeping)
    # As a CGI process exits: sys.stdout and sys.stderr are flushed after
    # the atexit handlers and before the files still open are closed (one
    # of which may be the script's own sys.stderr).
    _flush(sys.stdout)
    _flush(sys.stderr)
    for ref in list(_opened) if _opened else ():
        f = ref()
        try:
            if f is None or f.closed:
                continue
            if keeping:
                f.flush()
            else:
                f.close()
        except Exception:
            pass
    _opened.clear()


_gettrace = sys.gettrace
_getprofile = sys.getprofile
_monitoring = getattr(sys, "monitoring", None)


_TOOLS = range(6)  # the tool ids of sys.monitoring


def _free_tools(tools):
    m = _monitoring
    events = [e for e in (getattr(m.events, n) for n in dir(m.events))
              if type(e) is int and e and e & (e - 1) == 0]
    for t in tools:
        for e in events:
            m.register_callback(t, e, None)
        m.free_tool_id(t)


def _reset_asyncio(events):
    # The event loop a script got or set for its thread, and any policy it
    # installed, end with the request as with its process: the next script
    # gets a new loop from asyncio.get_event_loop(), not a closed one.
    policy = events._event_loop_policy
    loop = getattr(getattr(policy, "_local", None), "_loop", None)
    if loop is not None and not loop.is_running() and not loop.is_closed():
        try:
            loop.close()
        except Exception:
            pass
    events._event_loop_policy = None


_opener_installed = [False]


def _watch_install_opener(orig):
    def install_opener(opener):
        if _cur[1] is not None:
            _opener_installed[0] = True
        return orig(opener)
    install_opener._warmcgi = True
    install_opener.__doc__ = orig.__doc__
    return install_opener


def _restore_network():
    # Two settings of the standard library that scripts change to reach a
    # server (66), and that would make the next script's requests skip
    # certificate checks or go through another script's proxy and
    # credentials: ssl's default HTTPS context and urllib's global opener.
    m = sys.modules.get("ssl")
    if m is not None and m._create_default_https_context is not m.create_default_context:
        m._create_default_https_context = m.create_default_context
    m = sys.modules.get("urllib.request")
    if m is not None:
        if not getattr(m.install_opener, "_warmcgi", False):
            # First seen: the opener it holds may be this request's.
            m.install_opener = _watch_install_opener(m.install_opener)
            m._opener = None
        elif _opener_installed[0]:
            _opener_installed[0] = False
            m._opener = None


def _restore_interpreter():
    """Put back interpreter-wide settings a script may have changed (66)."""
    m = sys.modules.get("tempfile")
    if m is not None and m.tempdir is not None:
        _restore_tempdir(m)
    _modules_end()
    sys.excepthook = sys.__excepthook__
    sys.displayhook = sys.__displayhook__
    sys.unraisablehook = sys.__unraisablehook__
    sys.breakpointhook = sys.__breakpointhook__
    if sys.meta_path != _base_meta_path:
        sys.meta_path[:] = _base_meta_path
    if sys.path_hooks != _base_path_hooks:
        sys.path_hooks[:] = _base_path_hooks
    if sys.getrecursionlimit() != _base_recursion:
        sys.setrecursionlimit(_base_recursion)
    sys.dont_write_bytecode = _base_dont_write
    if warnings.filters != _base_filters:
        warnings.filters[:] = _base_filters
    # Every module's warnings registry is as new for the next request (a
    # new process's are empty): "default" and "once" warn again.
    warnings._filters_mutated()
    if logging.root.level != _base_root_level:
        logging.root.setLevel(_base_root_level)
    if logging.root.manager.disable:
        logging.disable(logging.NOTSET)
    if "threading" in sys.modules:
        threading.excepthook = threading.__excepthook__
        if threading.gettrace() is not None or threading.getprofile() is not None:
            threading.settrace(None)
            threading.setprofile(None)
    m = sys.modules.get("socket")
    if m is not None and m.getdefaulttimeout() is not None:
        m.setdefaulttimeout(None)
    m = sys.modules.get("cgi")
    if m is not None and getattr(m, "initlog", None) is not None:
        if m.maxlen or m.logfile or m.logfp is not None or m.log is not m.initlog:
            m.maxlen, m.logfile, m.logfp, m.log = 0, "", None, m.initlog
    if _locale_changed[0]:
        _locale_changed[0] = False
        _setlocale(locale.LC_ALL, _base_locale)
    if _seeded[0]:
        _seeded[0] = False
        sys.modules["random"].seed()
    _patch_random()
    if _umask_set[0]:
        _umask_set[0] = False
        _os_umask(_base_umask)
    sys.executable = _base_executable
    _penv.clear()
    if sys.getswitchinterval() != _base_switch:
        sys.setswitchinterval(_base_switch)
    if not gc.isenabled():
        gc.enable()
    if gc.get_threshold() != _base_gc_threshold:
        gc.set_threshold(*_base_gc_threshold)
    if gc.get_debug():
        gc.set_debug(0)
    if sys.get_int_max_str_digits() != _base_max_digits:
        sys.set_int_max_str_digits(_base_max_digits)
    m = sys.modules.get("asyncio.events")
    if m is not None and m._event_loop_policy is not None:
        _reset_asyncio(m)
    if "ssl" in sys.modules or "urllib.request" in sys.modules:
        _restore_network()
    while _added_codecs:
        try:
            codecs.unregister(_added_codecs.pop())
        except Exception:
            pass
    m = sys.modules.get("decimal")
    if m is not None:
        m.setcontext(m.Context())  # this thread's context, as a new process has it
    m = sys.modules.get("_csv")
    if m is not None and m.field_size_limit() != _CSV_FIELD_LIMIT:
        m.field_size_limit(_CSV_FIELD_LIMIT)
    m = sys.modules.get("_sqlite3")
    if m is not None:
        _restore_sqlite(m)


def _restore_sqlite(m):
    """The adapters and converters a script registered with sqlite3 go: a
    new process has only sqlite3's own (its dbapi2 module's functions),
    kept as flat (key, value, ...) tuples for _same_items."""
    dicts = (m.adapters, m.converters)
    if type(dicts[0]) is not dict or type(dicts[1]) is not dict:
        return  # rebound by a script: the C module keeps its own
    if not _sqlite_base:
        for d in dicts:
            items = []
            for k, v in d.items():
                if getattr(v, "__module__", None) == "sqlite3.dbapi2":
                    items += (k, v)
            _sqlite_base.append(tuple(items))
    for d, items in zip(dicts, _sqlite_base):
        if not _same_items(d, items):
            d.clear()
            d.update(zip(items[::2], items[1::2]))


def _restore_tempdir(m):
    """tempfile.tempdir a script set goes back to None, to be found again
    from the next request's environment, as in a new process. The one
    gettempdir() found stays: finding it makes and removes a file."""
    if _tempdir_default[0] is None:
        saved, m.tempdir = m.tempdir, None
        try:
            _tempdir_default[0] = m.gettempdir()
        except Exception:
            pass
        m.tempdir = saved
    if m.tempdir != _tempdir_default[0]:
        m.tempdir = None
    else:
        _adopt_name("tempfile", "tempdir", m.tempdir)


# Module state (66, F4): every name a request rebinds, adds or deletes in
# a module that was loaded before it (json.dumps = f, os.flag = 1, a
# function rebound in an installed package, builtins) is put back as the
# request ends, by one mechanism (modstate.c): each watched module's dict
# has a baseline, and the dicts a request changed go back to it. Watched:
# plain modules of the standard library and installed packages, the
# project modules an installed package holds (modules.py), and builtins;
# not the scripts' own helper modules (dropped or, with
# --modules keep, kept as they are), not sys (its settings are put back
# one by one above), not __main__ or the runtime, and not lazily loaded
# modules (their dict fills in when first used). What the import of a
# module that stays loaded does to other modules stays with it
# (_modules_import). With --modules keep or --globals keep only builtins
# are watched: what the scripts set up is meant to last.
_mtracked = {}  # name -> record (modstate.c)
_mskip = {}  # name -> the module's type when it was decided not to watch it
_ModuleType = type(sys)
_UNWATCHED = frozenset(("__main__", "_warmcgi", "sys"))
_KEEPING = _MODULES == "keep" or _GLOBALS == "keep"
_import_mark = [None]  # (mark, names) of the outermost import in progress
_loaded_now = []  # the modules whose load finished during it
_msealed = [None]  # sys.modules' version as the last request left it (_mstate_seal)
_loads_seen = [False]  # a module was loaded during this request


def _modules_seal():
    """As a request has ended: the next one may skip looking for new
    modules, unless this one loaded some (they are decided then)."""
    if _loads_seen[0]:
        _loads_seen[0] = False
        _msealed[0] = None
    else:
        _mstate_seal(sys.modules, _msealed)


def _watchable(name, m):
    if type(m) is not _ModuleType or name in _UNWATCHED:
        return False
    if getattr(m.__dict__.get("__spec__"), "_initializing", False):
        return False  # its code still runs: decided at the next request
    if _KEEPING:
        return name == "builtins"
    f = m.__dict__.get("__file__")
    return not isinstance(f, str) or f.startswith(_keep) or name in _held


_stdlib_dir = os.path.join(os.path.dirname(os.__file__), "")


def _stdlib(name, m):
    """Whether m is a module of the standard library (modcache.c learns
    its lazily built tables): built in, frozen, or a file under the
    library's directory outside its site-packages."""
    f = m.__dict__.get("__file__")
    if not isinstance(f, str):
        origin = getattr(m.__dict__.get("__spec__"), "origin", None)
        return name in sys.builtin_module_names or origin in ("built-in", "frozen")
    return f.startswith(_stdlib_dir) and "-packages" not in f[len(_stdlib_dir):].split(os.sep, 1)[0]


def _modules_begin():
    """As a request starts: baselines of the modules loaded since the last."""
    _modules_decide(_mstate_begin(_mtracked, sys.modules, _mskip, _msealed))


def _modules_decide(names):
    for name in names:
        m = sys.modules.get(name)
        if name in _mtracked and _mtracked[name][0] is m:
            continue
        if _watchable(name, m):
            _mstate_track(_mtracked, name, m, _stdlib(name, m))
        else:
            _mskip[name] = type(m)


def _modules_end():
    try:
        _mstate_end(_mtracked)
    except Exception:
        # A dict that cannot be put back (out of memory): start afresh.
        _mtracked.clear()


def _adopt_name(module, name, value):
    """Make value the baseline of one name of a watched module."""
    rec = _mtracked.get(module)
    items = rec[3] if rec is not None else ()
    for i in range(0, len(items), 2):
        if items[i] == name:
            rec[3] = items[:i + 1] + (value,) + items[i + 2:]
            return


def _modules_import(spec, load):
    """Import a module of the standard library or an installed package
    (load), which stays loaded after the request: what its
    import changes in watched modules (a library registering itself or
    patching another) becomes their baseline, as its import is not repeated.
    Changes the script made before the import are still put back."""
    if _import_mark[0] is not None or _cur[1] is None or not _mtracked:
        return load(spec)
    _import_mark[0] = _mstate_mark(_mtracked)
    try:
        m = load(spec)
        _loaded_now.append(spec.name)
        return m
    finally:
        mark, _import_mark[0] = _import_mark[0], None
        _mstate_adopt(_mtracked, mark[0], mark[1])
        # The modules it loaded are watched from here, as their import left
        # them: those whose load finished within it, not one whose code is
        # still running further out (a lazily loaded module, LazyLoader,
        # runs its code on first use, outside any import).
        loaded = _loaded_now[:]
        _loaded_now.clear()
        _modules_decide(loaded)
