# The fork template of --isolation fork. pyhost/early.c runs this in the
# main interpreter of a single-threaded process, before Go exists in it,
# with _SOCK_FD the socket to the server (internal/procmode/fork.go speaks
# the other end; frames are a type byte, a u32 length and the payload).
#
# The template imports the standard library once, then for each request
# compiles the script (once per path and stamp, so later forks inherit
# the code), forks, and reports the child's pid and, once reaped, its wait
# status. The child becomes what `python3 script.py` under mod_cgi is: the
# request's fds 0-2, environment, directory, signals, stdio, argv and a
# fresh __main__; then it runs the code and ends as CPython's main does.
# The template never runs a script itself. What scripts learn to import
# is in learn.py, which pyhost/fork.go sends after this file.
import builtins
import gc
import io
import os
import select
import signal
import socket
import struct
import sys
import warnings
from array import array
from importlib.machinery import SourceFileLoader

_sock = socket.socket(fileno=_SOCK_FD)  # noqa: F821 (set by early.c)


def _read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            raise EOFError
        buf += b
    return bytes(buf)


def _read_frame(sock):
    """One frame, and the fds that came with its header."""
    hdr = b""
    fds = []
    while len(hdr) < 5:
        msg, anc, _flags, _addr = sock.recvmsg(5 - len(hdr), socket.CMSG_SPACE(16 * 4), socket.MSG_CMSG_CLOEXEC)
        if not msg:
            raise EOFError
        hdr += msg
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.extend(array("i", data[: len(data) - len(data) % 4]))
    (n,) = struct.unpack("<I", hdr[1:])
    return hdr[0], _read_exact(sock, n), fds


def _send(typ, payload):
    _sock.sendall(struct.pack("<BI", typ, len(payload)) + payload)


# ---------------------------------------------------------------------
# What the template itself and every child need, imported once here. The
# rest is learned per script (below): on a machine where page faults are
# dear, a larger template makes every fork dearer (measured: a template
# holding ~150 common standard-library modules, 30 MB, cost hello ~12 ms
# more CPU per request than this one, 13 MB). Modules that warn when
# imported (cgi, cgitb on 3.11-3.12) are left to the script, so it sees
# their DeprecationWarning as under CGI.

_PRELOAD = (
    "atexit errno io locale os re resource signal stat struct threading time traceback warnings"
).split()


def _preload():
    import importlib

    for name in _PRELOAD:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                importlib.import_module(name)
            except Exception:
                continue
        if seen:
            print("warmcgi fork template: %s warned when imported" % name, file=sys.stderr)


def _install_pylib(block):
    """Offer warmcgi's cgi and cgitb where the standard library has none
    (3.13+), as the embedded runtime does (runtime/modules.py)."""
    parts = block.split(b"\0")
    pylib = {}
    for i in range(0, len(parts) - 1, 2):
        pylib[parts[i].decode()] = parts[i + 1].decode()
    import importlib.util

    missing = {n: s for n, s in pylib.items() if importlib.util.find_spec(n) is None}
    if not missing:
        return

    class _PylibFinder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if path is None and name in missing:
                return importlib.util.spec_from_loader(name, _PylibFinder, origin="warmcgi:" + name)
            return None

        @staticmethod
        def create_module(spec):
            return None

        @staticmethod
        def exec_module(module):
            name = module.__name__
            exec(compile(missing[name], "<warmcgi>/%s.py" % name, "exec", dont_inherit=True), module.__dict__)

    sys.meta_path.append(_PylibFinder)


# ---------------------------------------------------------------------
# Requests. 'Q': id u64, flags u8 (1: -u, 2: -B), optimize u8, stamp
# 4 x i64, then path, environment block and argv block, each a u32 length
# and bytes; fds 0, 1, 2 with the header. Answers: 'P' id u64, pid i32,
# error text (pid 0 when the fork failed); 'X' id u64, wait status i32.

_code = {}  # path -> (key, code or None, exception, sys.executable)
_running = {}  # pid -> request id
_base_executable = sys.executable
_base_path = list(sys.path)
# The template's own stdio objects own fds 0-2 (closefd): kept referenced,
# so that no child ever finalises them and closes its request's fds.
_template_stdio = (sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__)


def _decode(b):
    rid, flags, opt = struct.unpack_from("<QBB", b)
    stamp = struct.unpack_from("<4q", b, 10)
    off = 42
    parts = []
    for _ in range(3):
        (n,) = struct.unpack_from("<I", b, off)
        off += 4
        parts.append(b[off : off + n])
        off += n
    return rid, flags, opt, stamp, os.fsdecode(parts[0]), parts[1], parts[2]


def _shebang_executable(source):
    """sys.executable under CGI: the interpreter the shebang names."""
    line = source.split(b"\n", 1)[0].rstrip(b"\r")
    words = line[2:].split() if line.startswith(b"#!") else []
    if not words:
        return _base_executable
    prog = os.fsdecode(words[0])
    if os.path.basename(prog) == "env" and len(words) > 1:
        import shutil

        return shutil.which(os.fsdecode(words[1]), path="/usr/local/bin:/usr/bin:/bin") or _base_executable
    return prog


def _compiled(path, stamp, opt):
    key = (stamp, opt)
    e = _code.get(path)
    if e is not None and e[0] == key:
        return e
    exe = _base_executable
    try:
        with io.open_code(path) as f:
            source = f.read()
        exe = _shebang_executable(source)
        e = (key, compile(source, path, "exec", dont_inherit=True, optimize=opt), None, exe)
    except (SyntaxError, ValueError) as err:
        e = (key, None, err, exe)
    except OSError as err:
        e = (key, None, err, exe)
    _code[path] = e
    return e


def _serve():
    """The template's loop (a sub-template's too): requests from the
    server (or, for a sub-template, from the template), its children's
    exits, and in the template the sub-templates' frames and what the
    children learned."""
    global _spare, _poll, _wake
    _wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(_wake[1])
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    _poll = select.poll()
    _poll.register(_sock.fileno(), select.POLLIN)
    _poll.register(_wake[0], select.POLLIN)
    _send(ord("R"), b"")
    try:
        _spare = _fork_spare()
    except OSError:
        pass  # the first request tries again
    base = _sub_key is None
    if base:
        _learn_start()
    while True:
        for fd, _ev in _poll.poll():
            if fd == _wake[0]:
                try:
                    while os.read(_wake[0], 512):
                        pass
                except BlockingIOError:
                    pass
                _reap()
            elif fd == _sock.fileno():
                try:
                    typ, payload, fds = _read_frame(_sock)
                except (EOFError, ConnectionError):
                    os._exit(0)  # the server is gone, or retired this template
                if typ == ord("Q"):
                    _start(payload, fds)
                else:
                    for f in fds:
                        os.close(f)
            else:
                sub = _subs_by_fd.get(fd)
                if sub is not None:
                    _from_sub(sub)
        if base:
            _learn()


def _reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        rid = _running.pop(pid, None)
        if rid is not None:
            _send(ord("X"), struct.pack("<Qi", rid, status))


# A spare child is forked ahead of its request, and has done what every
# child does (signals, process group, limits, the template's fds) by the
# time its request comes: the fork's cost is off the request's path.
_spare = None  # (pid, socket to it), or None


class _Unwind(BaseException):
    """Raised in a child that has its request: it leaves every template
    frame, so that early.c runs the script's code as the outermost frame,
    as `python3 script.py` does (_JOB says what to run)."""


_template_modules = frozenset()  # in a child: the modules it was forked with
_JOB = None  # in a child: (code, globals) for early.c to run, then _finish


def _fork_spare():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        status = 70
        try:
            ours.detach()
            status = _child(theirs)
        except _Unwind:
            raise
        except BaseException:
            import traceback

            traceback.print_exc()
        os._exit(status)
    theirs.close()
    try:
        # Here too, so the group exists before the server may kill it.
        os.setpgid(pid, pid)
    except OSError:
        pass
    return pid, ours


def _start(payload, fds):
    """A request: to the sub-template of its script, if it has one that is
    ready, else forked from here."""
    rid, _flags, opt, stamp, path, _env, _argv = _decode(payload)
    key = _path_key.get(path)
    sub = _subs.get(key) if key is not None else None
    if sub is not None and sub.ready:
        sub.used = _tick()
        try:
            socket.send_fds(sub.sock, [struct.pack("<BI", ord("Q"), len(payload)) + payload], fds[:3])
        except OSError:
            pass  # it died: forked from here instead (its EOF comes next)
        else:
            # The fds stay open here until it has started the child: if it
            # dies first, the request is forked from here (_sub_gone).
            sub.pending[rid] = (payload, fds)
            return
    _start_here(rid, payload, fds, path, stamp, opt)


def _start_here(rid, payload, fds, path, stamp, opt):
    global _spare
    _compiled(path, stamp, opt)  # for the spares forked from now on
    pid = 0
    for _ in range(2):  # a spare that died meanwhile is replaced once
        try:
            if _spare is None:
                _spare = _fork_spare()
            pid, s = _spare
            _spare = None
            socket.send_fds(s, [struct.pack("<BI", ord("Q"), len(payload)) + payload], fds[:3])
            s.close()
            break
        except OSError as e:
            err = str(e).encode()
            pid = 0
    for f in fds:
        os.close(f)
    if pid == 0:
        _send(ord("P"), struct.pack("<Qi", rid, 0) + err)
        return
    _running[pid] = rid
    _send(ord("P"), struct.pack("<Qi", rid, pid))
    try:
        _spare = _fork_spare()
    except OSError:
        pass  # the next request tries again


# ---------------------------------------------------------------------
# The child.


def _child(sock):
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)
    if _max_memory:
        _limit_memory()
    if _max_procs:
        import resource

        resource.setrlimit(resource.RLIMIT_NPROC, (_max_procs, _max_procs))
    os.close(_wake[0])
    os.close(_wake[1])
    _drop_inherited()
    own = sock.fileno()
    os.closerange(3, own)  # the template's socket and anything else inherited
    os.closerange(own + 1, 1 << 20)
    try:
        typ, payload, fds = _read_frame(sock)
    except (EOFError, ConnectionError):
        return 0  # the template is gone: no request will come
    rid, flags, opt, stamp, path, env, argv = _decode(payload)
    global _child_path
    _child_path = path
    entry = _compiled(path, stamp, opt)
    for i, f in enumerate(fds[:3]):
        os.dup2(f, i)
    sock.detach()
    os.closerange(3, 1 << 20)  # the request's copies, the socket
    _set_environ(env)
    unbuffered = bool(flags & 1)
    _set_stdio(unbuffered)
    script_dir = os.path.dirname(path)
    sys.argv = [path] + [os.fsdecode(a) for a in argv.split(b"\0")[:-1]]
    sys.path[:] = [os.path.dirname(os.path.realpath(path))] + _base_path
    sys.executable = entry[3]
    sys.dont_write_bytecode = sys.dont_write_bytecode or bool(flags & 2)
    try:
        os.chdir(script_dir)
    except OSError:
        pass
    _wrequest_begin()  # importwarn.py: the learned modules' import warnings
    main = type(sys)("__main__")
    g = main.__dict__
    g["__file__"] = path
    g["__cached__"] = None
    g["__builtins__"] = builtins
    g["__loader__"] = SourceFileLoader("__main__", path)
    if sys.version_info < (3, 14):
        g["__annotations__"] = {}  # 3.14 (PEP 649) no longer makes one
    sys.modules["__main__"] = main
    if entry[1] is None:
        return _startup_error(path, entry[2])
    global _JOB
    _JOB = (entry[1], g)
    raise _Unwind


def _finish(e):
    """After early.c ran the script: e is what it raised (None: nothing).
    Returns the exit status, as CPython's main ends a script."""
    if e is None:
        status = 0
    elif isinstance(e, SystemExit):
        status = _exit_status(e)
    else:
        _report(e)
        status = 1
    status = _finalize(status)
    _learn_report()
    return status


def _limit_memory():
    """RLIMIT_DATA: what the fork holds now plus --max-memory, as process
    mode limits its workers (more raises MemoryError, like RLimitMEM)."""
    import resource

    data = 0
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmData:"):
                data = int(line.split()[1]) * 1024
    lim = data + _max_memory
    resource.setrlimit(resource.RLIMIT_DATA, (lim, lim))


def _set_environ(env):
    """The request's environment, as the process's own (putenv reaches C),
    with the locale coerced as python3 under Apache does (PEP 538)."""
    d = {}
    for item in env.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep and k:
            d[k] = v
    if not d.get(b"LC_ALL"):
        value = d.get(b"LC_CTYPE") or d.get(b"LANG")
        if not value or value in (b"C", b"POSIX"):
            d[b"LC_CTYPE"] = b"C.UTF-8"
    os.environb.clear()
    os.environb.update(d)
    if (d.get(b"LC_ALL") or d.get(b"LC_CTYPE") or d.get(b"LANG")) != b"C.UTF-8":
        # The template's LC_CTYPE is C.UTF-8 already (early.c).
        import locale

        try:
            locale.setlocale(locale.LC_CTYPE, "")
        except locale.Error:
            pass
    if b"TZ" in d:
        import time

        time.tzset()


def _stream(fd, write, unbuffered, name, errors):
    """A standard stream as CPython's create_stdio makes it for a pipe."""
    buffering = 0 if (unbuffered and write) else -1
    buf = io.open(fd, "wb" if write else "rb", buffering, closefd=False)
    raw = buf.raw if buffering else buf
    raw.name = name
    line_buffering = not unbuffered and fd == 2
    t = io.TextIOWrapper(buf, "utf-8", errors, "\n", line_buffering, unbuffered)
    t.mode = "w" if write else "r"
    return t


def _set_stdio(unbuffered):
    sys.stdin = sys.__stdin__ = _stream(0, False, unbuffered, "<stdin>", _template_stdio[0].errors)
    sys.stdout = sys.__stdout__ = _stream(1, True, unbuffered, "<stdout>", _template_stdio[1].errors)
    sys.stderr = sys.__stderr__ = _stream(2, True, unbuffered, "<stderr>", _template_stdio[2].errors)


def _startup_error(path, err):
    if isinstance(err, OSError):
        sys.stderr.write("%s: can't open file %r: [Errno %s] %s\n" % (sys.executable, path, err.errno, err.strerror))
        return _finalize(2)
    sys.excepthook(type(err), err, None)
    return _finalize(1)


def _exit_status(e):
    """CPython's handling of a SystemExit that reaches the top."""
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except BaseException:
        pass
    return 1


def _report(e):
    """An uncaught exception, through sys.excepthook as PyErr_Print does."""
    _strip_import_frames(e)  # importwarn.py: a sub-template's __import__
    tb = e.__traceback__
    sys.last_type, sys.last_value, sys.last_traceback = type(e), e, tb
    hook = sys.excepthook
    try:
        hook(type(e), e, tb)
    except BaseException as failed:
        import traceback

        try:
            sys.stderr.write("Error in sys.excepthook:\n")
            traceback.print_exception(type(failed), failed, failed.__traceback__)
            sys.stderr.write("\nOriginal exception was:\n")
            traceback.print_exception(type(e), e, tb)
        except BaseException:
            pass


def _finalize(status):
    """What Py_FinalizeEx does before the process ends: wait for threads,
    run atexit functions, flush stdout and stderr."""
    t = sys.modules.get("threading")
    if t is not None:
        try:
            t._shutdown()
        except BaseException as e:
            _report(e)
    import atexit

    atexit._run_exitfuncs()
    try:
        if sys.stdout is not None and not sys.stdout.closed:
            sys.stdout.flush()
    except BaseException:
        status = 120
    try:
        if sys.stderr is not None and not sys.stderr.closed:
            sys.stderr.flush()
    except BaseException:
        pass
    return status


# --max-memory: each child's RLIMIT_DATA above its size at the fork;
# --max-procs: each child's RLIMIT_NPROC. The kernel checks a fork against
# the forking process's own limit, so a fork bomb in one child stops at
# the limit while the template (with the server's limit) still forks.
_max_memory = 0
_max_procs = 0


def _set_limits(block):
    global _max_memory, _max_procs, _learn_dir
    _max_memory, _max_procs = struct.unpack_from("<QQ", block)
    _learn_dir = os.fsdecode(block[16:])


def _main():
    for _ in range(2):
        typ, block, fds = _read_frame(_sock)
        for f in fds:
            os.close(f)
        if typ == ord("L"):
            _install_pylib(block)
        elif typ == ord("C"):
            _set_limits(block)
    _preload()
    global _template_modules
    _template_modules = frozenset(sys.modules)
    gc.collect()
    gc.freeze()  # the template's objects: never collected, so forks share their pages
    try:
        _serve()
    except _Unwind:
        return  # a child, back at the top: early.c runs its script
    os._exit(1)

