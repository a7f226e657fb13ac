# Running one request: _run, which pyhost.c calls for each Exec, with the
# code cache it draws from; _finish, called before the interpreter ends.
import builtins
import gc
import io
import os
import re
import sys
import threading
import time
import traceback
from importlib.machinery import SourceFileLoader as _SourceFileLoader
from time import monotonic as _monotonic

_ModuleType = type(sys)

# Globals kept between requests (--globals keep): path -> __main__ module.
_kept_main = {}

# The code cache: path -> (stamp, code, compile error text, failure, loader,
# sys.executable for the script, the script's directory).
_cache = {}


def _load(path, stamp):
    optimize = (stamp[4] >> 1) & 3
    loader = _SourceFileLoader("__main__", path)
    try:
        with io.open_code(path) as f:
            source = f.read()
        # Compiled from bytes so PEP 263 cookies and a BOM are honoured (9).
        code = compile(source, path, "exec", dont_inherit=True, optimize=optimize)
    except SyntaxError as e:
        text = "".join(traceback.format_exception_only(type(e), e))
        return (stamp, None, text, "%s: %s" % (type(e).__name__, e), loader, _shebang_executable(source),
                os.path.dirname(path), "")
    except OSError as e:
        text = "%s: can't open file %r: [Errno %s] %s\n" % (sys.executable or "python3", path, e.errno, e.strerror)
        return (stamp, None, text, "%s: %s" % (type(e).__name__, e), loader, _base_executable,
                os.path.dirname(path), "")
    return (stamp, code, "", "", loader, _shebang_executable(source), os.path.dirname(path),
            _static_need(source) if _EXT_GUARD and not _MAIN and not _REAL_PROCESS else "")


# Calls that need another mode than a sub-interpreter whenever a script
# makes them (runtime/signals.py, process.py): under --isolation auto a
# script whose own source calls one is moved before any of it runs, so no
# part of its first request runs twice. (time.tzset needs another mode only
# with another TZ than the server's: that is seen when it runs.)
_STATIC_NEEDS = {
    ("signal", "alarm"): "calls signal.alarm (it cannot interrupt a blocking call in a shared process)",
    ("signal", "setitimer"): "calls signal.setitimer (it cannot interrupt a blocking call in a shared process)",
    ("os", "fork"): "calls os.fork (refused in a shared process)",
    ("os", "forkpty"): "calls os.fork (refused in a shared process)",
    ("pty", "fork"): "calls os.fork (refused in a shared process)",
    ("resource", "setrlimit"): "calls resource.setrlimit (refused in a shared process)",
}


def _static_need(source):
    """The first of _STATIC_NEEDS the script's own source calls, as
    module.name(...) or after `from module import name` ("" if none)."""
    import ast  # lazy: only --isolation auto scans
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ""
    imported = {}  # local name -> (module, name), from `from m import n [as x]`
    modules = {}  # local name -> module, from `import m as x`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                imported[a.asname or a.name] = (node.module, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    modules[a.asname] = a.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        key = None
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            key = (modules.get(f.value.id, f.value.id), f.attr)
        elif isinstance(f, ast.Name):
            key = imported.get(f.id)
        if key in _STATIC_NEEDS:
            return _STATIC_NEEDS[key]
    return ""


# sys.executable (F1): under CGI it is the interpreter the shebang names
# (/usr/bin/python3, or python3 found on PATH through env), not the
# library's own python3.X; each request gets its script's.
_base_executable = sys.executable


def _shebang_executable(source):
    line = source.split(b"\n", 1)[0].rstrip(b"\r")
    if not line.startswith(b"#!"):
        return _base_executable
    words = line[2:].split()
    if not words:
        return _base_executable
    prog = os.fsdecode(words[0])
    if os.path.basename(prog) == "env" and len(words) > 1:
        import shutil  # lazy: loaded only for a `#!/usr/bin/env python3` script
        return shutil.which(os.fsdecode(words[1]), path="/usr/local/bin:/usr/bin:/bin") or _base_executable
    return prog


def _exit_status(e, err):
    """The exit status CPython gives a SystemExit that reaches the top (44)."""
    code = e.code
    if code is None:
        return 0, ""
    if isinstance(code, int):
        return code, "" if code == 0 else "SystemExit: %d" % code
    err.buf += (str(code) + "\n").encode("utf-8", "backslashreplace")
    return 1, "SystemExit: %s" % code


def _subinterp_hint(e, path, err):
    """When e comes from a module that cannot load in a sub-interpreter,
    end the logged traceback with the fix (81)."""
    if _MAIN:
        return
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = str(e)
        if re.search(r"sub-?interpreter|interpreter change detected|more than once per process", text, re.I):
            break
        e = e.__cause__ or e.__context__
    else:
        return
    m = re.search(r"module '?([\w.]+)'? does not support", text)
    name = getattr(e, "name", None) or (m and m.group(1))
    tb = e.__traceback__
    while not name and tb is not None:
        # The first frame outside the script is the module being imported.
        f = tb.tb_frame
        if f.f_code.co_filename != path and not f.f_code.co_filename.startswith("<"):
            name = f.f_globals.get("__name__")
        tb = tb.tb_next
    _need_mode("imports %s (it does not support sub-interpreters)" % (name or "?"))
    err.buf += ("warmcgi: module %r cannot load in a sub-interpreter; serve this script with "
                "--isolation-for '%s=main' (or --isolation process)\n"
                % ((name or "?").partition(".")[0], os.path.basename(path))).encode("utf-8", "backslashreplace")


def _report(e):
    """Report an uncaught exception through the current sys.excepthook (40)."""
    tb = e.__traceback__
    if tb is not None:
        tb = tb.tb_next  # drop _run's own frame: the script's is first
    e.__traceback__ = tb
    _strip_import_frames(e)
    tb = e.__traceback__
    hook = sys.excepthook
    try:
        hook(type(e), e, tb)
        return
    except BaseException as hook_error:
        failed = hook_error
    # The hook failed (or stderr is closed): the traceback still reaches
    # the server log, written straight into the request's stderr.
    text = "".join(traceback.format_exception(type(e), e, tb))
    if hook is not sys.__excepthook__:
        text += "Error in sys.excepthook:\n" + "".join(
            traceback.format_exception(type(failed), failed, failed.__traceback__))
    if _cur[2] is not None:
        _cur[2].buf += text.encode("utf-8", "backslashreplace")


def _flush(stream):
    # A closed stream is skipped, as CPython's exit skips a closed
    # sys.stdout or sys.stderr (a file of the script's own, closed by it).
    if stream is _stdout or stream is _stderr or stream is None:
        return
    try:
        if stream.closed is True:
            return
    except Exception:
        pass  # no such attribute, or a detached wrapper: flush() reports it
    try:
        stream.flush()
    except BaseException as e:
        _stderr.write("Exception ignored while flushing %r: %r\n" % (stream, e))


def _begin(path, stamp, env, args, body, stream, own_cwd, reader):
    """Make the interpreter the request's: its code, streams, environment,
    argv, path, working directory and __main__."""
    global _gen, _worker
    _gen += 1
    _script[0] = path
    if _held and path in _owners:
        _check_held()
    # Before the held modules' stash below takes modules out of
    # sys.modules: as the last request left it, sys.modules is unchanged,
    # so only the watched dicts are looked at (a stash first made every
    # module a new one, and the stashed ones' baselines were dropped and
    # taken again each request).
    _modules_begin()
    if _held:
        _stash_held(path)
    _wrequest_begin()  # importwarn.py
    # Requests run on the thread that owns the interpreter (in main mode,
    # each worker's own thread state of the main interpreter): the
    # watchdog, emulated signals and the stdio routing follow this one,
    # and threads the script starts inherit daemon=False from it, as from
    # the main thread of a CGI process (73).
    _worker = _get_ident()
    t = threading.current_thread()
    if t._daemonic:
        t._daemonic = False
    entry = _cache.get(path)
    compiled = 0  # for the server's metrics: 1 first load, 2 reload after a change
    if entry is None or entry[0] != stamp:
        compiled = 1 if entry is None else 2
        entry = _load(path, stamp)
        _cache[path] = entry
        _kept_main.pop(path, None)

    _needs[0] = ""
    _rerunnable[0] = not reader
    _unbuffered[0] = bool(stamp[4] & 1)
    out = _Sink("surrogateescape")
    out.stream = stream
    err = _Sink("backslashreplace")
    err.line_buffering = True  # stderr is line-buffered in a CGI child (F3)
    src = _Source(body, reader)
    _cur[0] = src
    _cur[1] = out
    _cur[2] = err
    _coerce_locale(env)
    _set_environ(env)
    if _REAL_PROCESS:
        # The worker made the request's environment the C one; the
        # coercion is python3's own addition to it (env may be a dict the
        # C layer kept from an earlier request, coerced already).
        if env.get(b"LC_CTYPE") == b"C.UTF-8":
            _os_orig["putenv"](b"LC_CTYPE", b"C.UTF-8")
        _install_stdio(_unbuffered[0])
    sys.argv = [path] + args
    if _TIMEOUT > 0:
        _deadline[0], _deadline[1] = _monotonic() + _TIMEOUT, _gen
    script_dir = entry[6]
    sys.path[:] = [script_dir] + _base_path
    if _CHDIR and own_cwd:
        # RFC 3875 7.2, and Apache: a script starts in its own directory
        # (78). This thread has its own working directory (CLONE_FS).
        os.chdir(script_dir)
    marker = next(reversed(sys.modules))
    _patch_random()

    main = _kept_main.get(path) if _GLOBALS == "keep" else None
    if main is None:
        main = _ModuleType("__main__")
        g = main.__dict__
        g["__file__"] = path
        g["__cached__"] = None
        g["__builtins__"] = builtins
        g["__loader__"] = entry[4]
        if sys.version_info < (3, 14):
            g["__annotations__"] = {}  # 3.14 (PEP 649) no longer makes one
        if _GLOBALS == "keep":
            _kept_main[path] = main
    g = main.__dict__
    sys.modules["__main__"] = main
    sys.executable = entry[5]
    # The script's thread is its process's main thread: for
    # asyncio.get_event_loop(), `current_thread() is main_thread()` checks
    # and the thread name in log records.
    threading._main_thread = t
    if t._name != "MainThread":
        t._name = "MainThread"
    return entry, compiled, out, err, src, marker, g


def _end(out, err, src, marker, g):
    """Put the interpreter back as a request ends, however it ended, and
    return what threads wrote after it was sealed (for the server log)."""
    global _late
    if _REAL_PROCESS:
        # The real stdio objects are the process's, reused across
        # requests: only a stream the script put in their place needs
        # finalising now (a gc.collect per request costs milliseconds).
        std = _real_std.get(_unbuffered[0], ())
        replaced = len(std) < 2 or sys.stdout is not std[1]
    else:
        replaced = sys.stdout is not _stdout
    _flush(sys.stdout)
    _flush(sys.stderr)
    if _REAL_PROCESS:
        _proc_end(_unbuffered[0])
    _install_stdio(between=True)
    sys.modules["__main__"] = _orig_main
    threading._main_thread = _orig_main_thread
    if _GLOBALS != "keep":
        _close_connections(g)
        g.clear()
    if replaced:
        # A wrapper the script put around sys.stdout.buffer must be
        # finalised now, not during a later request.
        gc.collect()
    for t in _readers:
        t.join(1.0)  # children still holding stdout are cut off (90)
    _readers.clear()
    out.sealed = err.sealed = True
    src.release()
    _cur[0] = _cur[1] = _cur[2] = None
    _saved_streams.clear()
    for b in _fd_sinks:
        _os_close(b.fd)
    _fd_sinks.clear()
    if _raw_fds:
        _close_raw_fds()
    sys.argv = _orig_argv
    sys.path[:] = _base_path
    if _import_failed:
        _drop_broken(marker)
    if _MODULES == "purge":
        _purge_modules(marker)
    if _stash:
        _unstash_held()
    _wrequest_end()
    _group_held(_held_formed[0])
    _held_formed[0] = False
    _restore_interpreter()
    _modules_seal()
    _set_environ(_idle_env)
    _drop_async()  # a timer that fired too late
    _deadline[0] = 0.0
    _drop_async()  # a timeout that fired as the script ended
    late, _late = _late, bytearray()
    return late


def _run(path, stamp, env, args, body, stream, own_cwd, reader=0):
    """Run one request (pyhost.c, ph_exec): the result is (exit status,
    stdout, stderr, failure text, late output, compiled, threads left,
    timed out, needs another mode), in the order of pyhost.c's RES_* indices."""
    entry, compiled, out, err, src, marker, g = _begin(path, stamp, env, args, body, stream, own_cwd, reader)
    exit_code = 0
    failure = ""
    timed_out = False
    try:
        code = entry[1]
        if code is None:
            err.buf += entry[2].encode("utf-8", "backslashreplace")
            exit_code, failure = 1, entry[3]
        else:
            try:
                try:
                    if entry[7]:
                        _move_now(entry[7])
                    exec(code, g)
                finally:
                    # A tracer or profiler the script left on would follow
                    # the runtime's code and every later request; its CGI
                    # process would have taken it along. Stopped before
                    # any other Python function runs.
                    if _gettrace() is not None or _getprofile() is not None:
                        sys.settrace(None)
                        sys.setprofile(None)
                    if _monitoring is not None:
                        tools = [tool for tool in _TOOLS if _monitoring.get_tool(tool) is not None]
                        if tools:
                            for tool in tools:
                                _monitoring.set_events(tool, 0)
                            _free_tools(tools)
            except SystemExit as e:
                exit_code, failure = _exit_status(e, err)
            except _EndRequest as e:
                exit_code, failure, timed_out = e.code, e.why, e.timed_out
            except BaseException as e:
                exit_code = 1
                failure = "%s: %s" % (type(e).__name__, e)
                _report(e)
                _subinterp_hint(e, path, err)
        if _REAL_PROCESS and os.getpid() != _pid:
            _proc_child_exit(exit_code, err)
        try:
            _reset_state(err)
        except _EndRequest as e:
            exit_code, failure, timed_out = e.code, e.why, e.timed_out
    finally:
        late = _end(out, err, src, marker, g)
    left, _threads_left[0] = _threads_left[0], False
    return (exit_code, out.buf, err.buf, failure, late, compiled, left, timed_out, _needs[0])


def _finish():
    """Before the interpreter ends: join its threads (Py_EndInterpreter
    aborts the process if any other thread is left). False means one is
    still running, and the interpreter must be left alone."""
    _watch_stop[0] = True
    with _watch_cv:
        _watch_cv.notify_all()
    try:
        threading._shutdown()
    except BaseException:
        pass
    deadline = time.monotonic() + 1.0
    while _running_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not _running_threads()


def _running_threads():
    """The threads of this interpreter that Python started and that still
    run. The server's threads that ran requests are foreign to threading
    (_DummyThread, and never leave its table): the C layer ends their
    idle thread states itself, so they do not count."""
    return [t for t in threading.enumerate()
            if t is not _orig_main_thread and not isinstance(t, threading._DummyThread) and t.is_alive()]
