# The warmcgi runtime: installed once in every interpreter, before any
# script runs, by pyhost.c. It makes each re-execution of a cached code
# object look like a fresh `python3 script.py` started by Apache mod_cgi
# (see shared/COMPAT.md for the case numbers cited below).
#
# What must stay the same object for the interpreter's life (because
# scripts and libraries capture it at import time) does: sys.stdin,
# sys.stdout, sys.stderr, their .buffer, and os.environ. What must be per
# request is behind them: the request's sinks in _cur and the environ dict.
#
# pyhost prepends the interpreter's settings: _CHDIR (bool), _MODULES
# ("purge" or "keep"), _GLOBALS ("fresh" or "keep"), _TIMEOUT (seconds,
# 0 for none), _CGI_ESCAPE (bool), _REAL_PROCESS (bool: the interpreter
# owns its worker process, see "Process mode" below) and _PYLIB (module
# name -> source of the modules warmcgi brings, e.g. cgi on 3.13+).
import builtins
import errno
import io
import os
import signal
import sys
import _thread

_ModuleType = type(sys)
# What the emulation below replaces in os and signal, kept for process
# mode, where the real calls are the right ones.
_os_orig = dict(vars(os))
_signal_orig = dict(vars(signal))
_pid = os.getpid()

# The current request's streams: [stdin, stdout, stderr]; None between
# requests, so a late write can never land in a later response (43).
_cur = [None, None, None]
_late = bytearray()
_get_ident = _thread.get_ident
_worker = _get_ident()  # the thread running the current request (set by _run)
# Threads a request started write into that request's streams, and into
# the server log once it has ended, never into a later response (43).
_thread_sinks = {}  # thread ident -> [stdin, stdout, stderr] of its request


def _sink_for(fd):
    ident = _get_ident()
    if ident == _worker:
        return _cur[fd]
    sinks = _thread_sinks.get(ident)
    if sinks is None:
        return _cur[fd]
    s = sinks[fd]
    return None if s is None or s.sealed else s


def _closed_error():
    return ValueError("I/O operation on closed file.")


class _Sink:
    """One request's output stream: bytes in call order (29)."""

    __slots__ = ("buf", "mark", "ok", "sealed", "stream", "_closed", "_detached", "encoding", "errors", "line_buffering")

    def __init__(self, errors):
        self.buf = bytearray()
        self.mark = 0  # how much was flushed (what survives os._exit)
        self.sealed = False  # the request ended: late writes go to the log
        self.stream = 0  # Go handle output is streamed to on flush (0: none)
        self.ok = True  # neither closed nor detached: the fast path
        self._closed = False
        self._detached = False
        self.encoding = "utf-8"
        self.errors = errors
        self.line_buffering = False

    @property
    def closed(self):
        return self._closed

    @closed.setter
    def closed(self, value):
        self._closed = value
        self.ok = not (self._closed or self._detached)

    @property
    def detached(self):
        return self._detached

    @detached.setter
    def detached(self, value):
        self._detached = value
        self.ok = not (self._closed or self._detached)


_STREAM_AT = 256 * 1024  # a large body streams without waiting for a flush


def _flushed(s):
    """An explicit flush: what was written so far survives os._exit and,
    when the request streams, goes to the client now (28)."""
    if s.stream and s.buf and type(s.buf) is bytearray:
        rc = _emit(s.stream, s.buf)
        if rc == 0:
            del s.buf[:]
        elif rc == 2:
            s.stream = 0
        elif rc < 0:
            # The client went away (42): writes fail from now on, as on a
            # closed pipe under CGI.
            s.stream = 0
            s.closed = True
            del s.buf[:]
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
    s.mark = len(s.buf)


class _BodyRaw(io.RawIOBase):
    """A large request body read from the server as the script reads it,
    while it arrives (19); not seekable, as a pipe is not."""

    def __init__(self, handle):
        self._h = handle

    def readable(self):
        return True

    def readinto(self, b):
        data = _read_body(self._h, len(b))
        n = len(data)
        b[:n] = data
        return n


class _Source:
    """One request's input: the body, opened lazily (most GETs never read)."""

    __slots__ = ("body", "reader", "closed", "_bin", "_text", "encoding", "errors")

    def __init__(self, body, reader=0):
        self.body = body
        self.reader = reader  # Go handle of a body read as it arrives (0: none)
        self.closed = False
        self._bin = None
        self._text = None
        self.encoding = "utf-8"
        self.errors = "surrogateescape"

    def binary(self):
        if self.closed:
            raise _closed_error()
        if self._bin is None:
            if self.reader:
                self._bin = io.BufferedReader(_BodyRaw(self.reader))
            elif type(self.body) is int:
                # A large body spooled to a file by the server: read it
                # through a descriptor of our own.
                self._bin = _io_open(os.dup(self.body), "rb")
            else:
                self._bin = io.BytesIO(self.body)
        return self._bin

    def materialize(self):
        """Read the rest of a body that arrives as it is read, so that a
        child process can be given it (85-87): from then on the script
        reads it from memory. (Text the script's sys.stdin had decoded
        ahead but not returned is dropped with the old wrapper.)"""
        if self.reader and not self.closed:
            self._bin = io.BytesIO(self.binary().read())
            self._text = None
            self.reader = 0

    def release(self):
        if type(self.body) is int and self._bin is not None:
            self._bin.close()

    def text(self):
        if self.closed:
            raise _closed_error()
        if self._text is None:
            # newline="\n" is what CPython gives sys.stdin on POSIX.
            self._text = io.TextIOWrapper(self.binary(), self.encoding, self.errors, "\n")
        return self._text


class _BinaryOut(io.BufferedIOBase):
    """sys.stdout.buffer / sys.stderr.buffer: stable, routes to the request."""

    def __init__(self, fd, name):
        self._fd = fd
        self._name = name

    def write(self, b):
        s = _sink_for(self._fd)
        if isinstance(b, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        if s is None:
            _late.extend(b)
            return len(memoryview(b).cast("B"))
        if s.closed:
            raise _closed_error()
        n = len(s.buf)
        s.buf += b
        n = len(s.buf) - n
        if s.stream and len(s.buf) >= _STREAM_AT:
            _flushed(s)
        return n

    def writelines(self, lines):
        for b in lines:
            self.write(b)

    def flush(self):
        s = _sink_for(self._fd)
        if s is not None:
            if s.closed:
                raise _closed_error()
            _flushed(s)

    def close(self):
        s = _cur[self._fd]
        if s is not None:
            s.closed = True

    @property
    def closed(self):
        s = _cur[self._fd]
        return s is not None and s.closed

    @property
    def name(self):
        return self._name

    @property
    def mode(self):
        return "wb"

    @property
    def raw(self):
        return self

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    def detach(self):
        raise io.UnsupportedOperation("detach")

    def __repr__(self):
        return "<_io.BufferedWriter name=%r>" % self._name

    def __del__(self):
        pass


class _TextOut(io.TextIOWrapper):
    """sys.stdout / sys.stderr: a text face over the same request sink.

    An io.TextIOWrapper, as under CGI, for code that checks the type; the
    wrapper's own buffer is an unused placeholder."""

    __slots__ = ("_fast",)

    def __init__(self, fd, name):
        io.TextIOWrapper.__init__(self, io.BytesIO(), "utf-8")
        self._fd = fd
        self._name = name
        self._buffer = _BinaryOut(fd, name)
        # What the C write method (pyhost.c, textout_write) needs, in its
        # order.
        self._fast = (fd, _cur, globals(), "_worker", _STREAM_AT, _flushed, _TextOut._write_py, _Sink)

    def _sink(self):
        s = _sink_for(self._fd)
        if s is not None:
            if s.detached:
                raise ValueError("underlying buffer has been detached")
            if s.closed:
                raise _closed_error()
        return s

    def _write_py(self, text):
        s = _cur[self._fd] if _get_ident() == _worker else _sink_for(self._fd)
        if type(text) is str and s is not None and s.ok:
            s.buf += text.encode(s.encoding, s.errors)
            if s.stream and len(s.buf) >= _STREAM_AT:
                _flushed(s)
            return len(text)
        if not isinstance(text, str):
            # CPython names None itself, other objects by their type.
            raise TypeError("write() argument must be str, not %s" % ("None" if text is None else type(text).__name__))
        s = self._sink()
        if s is None:
            _late.extend(text.encode("utf-8", "backslashreplace"))
            return len(text)
        s.buf += text.encode(s.encoding, s.errors)
        return len(text)

    def writelines(self, lines):
        for text in lines:
            self.write(text)

    def flush(self):
        s = self._sink()
        if s is not None:
            _flushed(s)

    def close(self):
        s = _cur[self._fd]
        if s is not None:
            s.closed = True

    def detach(self):
        s = self._sink()
        if s is not None:
            s.detached = True
        return self._buffer

    def reconfigure(self, *, encoding=None, errors=None, newline=None,
                    line_buffering=None, write_through=None):
        s = self._sink()
        if s is None:
            return
        if encoding is not None:
            "".encode(encoding)  # LookupError for an unknown codec, as CPython
            s.encoding = encoding
            if errors is None:
                errors = "strict"
        if errors is not None:
            s.errors = errors
        if line_buffering is not None:
            s.line_buffering = bool(line_buffering)

    @property
    def closed(self):
        s = _cur[self._fd]
        return s is not None and s.closed

    @property
    def buffer(self):
        return self._buffer

    @property
    def encoding(self):
        s = _cur[self._fd]
        return s.encoding if s is not None else "utf-8"

    @property
    def errors(self):
        s = _cur[self._fd]
        if s is not None:
            return s.errors
        return "backslashreplace" if self._fd == 2 else "surrogateescape"

    @property
    def line_buffering(self):
        s = _cur[self._fd]
        return s is not None and s.line_buffering

    @property
    def write_through(self):
        return False

    @property
    def newlines(self):
        return None

    @property
    def name(self):
        return self._name

    @property
    def mode(self):
        return "w"

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def seekable(self):
        return False

    def __repr__(self):
        return "<_io.TextIOWrapper name=%r mode='w' encoding=%r>" % (self._name, self.encoding)

    def __del__(self):
        pass


class _BinaryIn(io.BufferedIOBase):
    """sys.stdin.buffer: the request body, EOF right after it (17, 18, 20)."""

    def _f(self):
        s = _cur[0]
        if s is None:
            return io.BytesIO()
        return s.binary()

    def read(self, size=-1):
        return self._f().read(size)

    def read1(self, size=-1):
        return self._f().read1(size)

    def readline(self, size=-1):
        return self._f().readline(size)

    def readlines(self, hint=-1):
        return self._f().readlines(hint)

    def readinto(self, b):
        return self._f().readinto(b)

    def readinto1(self, b):
        return self._f().readinto1(b)

    def peek(self, size=0):
        f = self._f()
        pos = f.tell()
        data = f.read(max(size, 1))
        f.seek(pos)
        return data

    def __iter__(self):
        return self

    def __next__(self):
        line = self._f().readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        s = _cur[0]
        if s is not None:
            s.closed = True

    @property
    def closed(self):
        s = _cur[0]
        return s is not None and s.closed

    @property
    def name(self):
        return "<stdin>"

    @property
    def mode(self):
        return "rb"

    @property
    def raw(self):
        return self

    def fileno(self):
        return 0

    def isatty(self):
        return False

    def readable(self):
        return True

    def writable(self):
        return False

    def seekable(self):
        return False

    def detach(self):
        raise io.UnsupportedOperation("detach")

    def __repr__(self):
        return "<_io.BufferedReader name='<stdin>'>"

    def __del__(self):
        pass


class _TextIn(io.TextIOWrapper):
    """sys.stdin: UTF-8 with surrogateescape, as a CGI child has (21).

    An io.TextIOWrapper, as under CGI: cgi.parse() reads sys.stdin.buffer
    only when sys.stdin is one."""

    def __init__(self):
        io.TextIOWrapper.__init__(self, io.BytesIO(), "utf-8")
        self._buffer = _BinaryIn()

    def _f(self):
        s = _cur[0]
        if s is None:
            return io.StringIO()
        return s.text()

    def read(self, size=-1):
        return self._f().read(size)

    def readline(self, size=-1):
        return self._f().readline(size)

    def readlines(self, hint=-1):
        return self._f().readlines(hint)

    def __iter__(self):
        return self

    def __next__(self):
        line = self._f().readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        # exit() and quit() close sys.stdin (24): only this request's input.
        s = _cur[0]
        if s is not None:
            s.closed = True

    def detach(self):
        return self._buffer

    def reconfigure(self, *, encoding=None, errors=None, newline=None,
                    line_buffering=None, write_through=None):
        s = _cur[0]
        if s is None:
            return
        if encoding is not None:
            "".encode(encoding)
            s.encoding = encoding
            if errors is None:
                errors = "strict"
        if errors is not None:
            s.errors = errors
        if s._text is not None and (encoding is not None or errors is not None):
            s._text.reconfigure(encoding=s.encoding, errors=s.errors)

    @property
    def closed(self):
        s = _cur[0]
        return s is not None and s.closed

    @property
    def buffer(self):
        return self._buffer

    @property
    def encoding(self):
        s = _cur[0]
        return s.encoding if s is not None else "utf-8"

    @property
    def errors(self):
        s = _cur[0]
        return s.errors if s is not None else "surrogateescape"

    @property
    def newlines(self):
        return None

    @property
    def line_buffering(self):
        return False

    @property
    def name(self):
        return "<stdin>"

    @property
    def mode(self):
        return "r"

    def fileno(self):
        return 0

    def isatty(self):
        return False

    def readable(self):
        return True

    def writable(self):
        return False

    def seekable(self):
        return False

    def __repr__(self):
        return "<_io.TextIOWrapper name='<stdin>' mode='r' encoding=%r>" % self.encoding

    def __del__(self):
        pass


# A print is a few writes: the method is C (pyhost.c, textout_write), the
# same kind as io.TextIOWrapper's, and calls _write_py for all but a str
# written on the request's thread to an open sink.
_TextOut.write = _text_write(_TextOut, _TextOut._fast, _Sink.ok, _Sink.buf, _Sink.encoding, _Sink.errors, _Sink.stream)

_stdin = _TextIn()
_stdout = _TextOut(1, "<stdout>")
_stderr = _TextOut(2, "<stderr>")


# Process mode: fds 0-2 are the request's own pipes (the worker points
# them there before each request), so sys.stdin/stdout/stderr are real
# files on them, made as CPython makes them for a python3 that Apache
# starts: UTF-8 (the runtime's locale, as the proxies above), stdout block
# buffered, stderr line buffered, both unbuffered with -u. Like CPython's
# they last for the worker's life, so a library that kept
# sys.stdout.buffer at import (Mercurial) writes into whichever request
# runs; one the script closed, detached or reconfigured is replaced.
_real_std = {}  # python -u (bool) -> [stdin, stdout, stderr]


def _make_std(fd, unbuffered):
    write = fd != 0
    raw = io.FileIO(fd, "wb" if write else "rb", closefd=False)
    raw.name = ("<stdin>", "<stdout>", "<stderr>")[fd]
    if unbuffered and write:
        buf = raw
    elif write:
        buf = io.BufferedWriter(raw)
    else:
        buf = io.BufferedReader(raw)
    errors = "backslashreplace" if fd == 2 else "surrogateescape"
    # Text and bytes written through .buffer keep their order (29), as
    # on the emulated streams: the text layer passes each write on.
    return io.TextIOWrapper(buf, "utf-8", errors, "\n", line_buffering=fd == 2 and not unbuffered,
                            write_through=write)


def _fd_seekable(fd):
    try:
        os.lseek(fd, 0, os.SEEK_CUR)
        return True
    except OSError:
        return False


def _std_usable(f, fd, unbuffered):
    try:
        # The file objects learn once whether their fd is seekable: one
        # made on /dev/null must not serve a pipe.
        return (not f.closed and not f.buffer.closed and f.encoding == "utf-8"
                and f.errors == ("backslashreplace" if fd == 2 else "surrogateescape")
                and f.line_buffering == (fd == 2 and not unbuffered)
                and f.buffer.seekable() == _fd_seekable(fd))
    except (ValueError, AttributeError):
        return False  # detached


def _real_stdio(unbuffered):
    std = _real_std.setdefault(unbuffered, [None, None, None])
    for fd in range(3):
        if std[fd] is None or not _std_usable(std[fd], fd, unbuffered):
            old, std[fd] = std[fd], _make_std(fd, unbuffered)
            if old is not None:
                # Modules keep what they found at import (Mercurial keeps
                # sys.stdout.buffer): collecting the old wrapper must not
                # close the buffer they hold.
                try:
                    old.detach()
                except (ValueError, AttributeError):
                    pass
    return std


def _install_stdio(unbuffered=False, between=False):
    if _REAL_PROCESS:
        std = _real_std.get(unbuffered) if between else None
        if std is None or None in std:
            std = _real_stdio(unbuffered)
        # Between requests fds 0-2 are /dev/null: the objects made for the
        # last request's pipes stay, to be checked against the next
        # request's descriptors, not replaced now.
        sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = std
        return
    sys.stdin = sys.__stdin__ = _stdin
    sys.stdout = sys.__stdout__ = _stdout
    sys.stderr = sys.__stderr__ = _stderr


_install_stdio()


# os.environ (22, 54-56): the same _Environ objects for the interpreter's
# life, their storage swapped per request. The storage dict is shared by
# os.environ and os.environb, as in CPython. os.putenv and os.unsetenv are
# what _Environ calls on writes: they must never reach the process's C
# environment, which every thread and interpreter shares (55).
_environ = os.environ
_environb = os.environb
_idle_env = {}


# Under CGI os.putenv changes the process environment, which children see,
# but not os.environ (55). Here the process environment is the server's:
# a request's putenv and unsetenv go into an overlay that only its
# children's environments get, cleared when the request ends.
_penv = {}


def _putenv(key, value):
    _penv[os.fsdecode(os.fsencode(key))] = os.fsdecode(os.fsencode(value))


def _unsetenv(key):
    _penv[os.fsdecode(os.fsencode(key))] = None


def _child_env():
    env = dict(os.environ)
    for k, v in _penv.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


os.putenv = _putenv
os.unsetenv = _unsetenv


def _set_environ(data):
    _environ._data = data
    _environb._data = data


_set_environ(_idle_env)


def _coerce_locale(env):
    # Python started by Apache with no LANG coerces the C locale to
    # C.UTF-8 and says so in its environment (PEP 538, case 60).
    if env.get(b"LC_ALL"):
        return
    value = env.get(b"LC_CTYPE") or env.get(b"LANG")
    if not value or value in (b"C", b"POSIX"):
        env[b"LC_CTYPE"] = b"C.UTF-8"


# Module bookkeeping: sys.path and sys.modules as the interpreter started.
_base_path = list(sys.path)
_orig_main = sys.modules.get("__main__")
_orig_argv = list(getattr(sys, "argv", [""]))


# Modules whose files live under the interpreter's own sys.path (the
# standard library and installed packages) stay warm; everything else is
# the user's own code. Not sys.prefix itself: Debian's cgi-bin is
# /usr/lib/cgi-bin, under the prefix /usr.
_keep = tuple(os.path.join(p, "") for p in _base_path if p)


# Helper modules from the scripts' own trees (15): their code is cached in
# memory per interpreter, keyed like the scripts' by (mtime_ns, size,
# inode, device), instead of going through bytecode files, which CPython
# checks by whole-second mtime and size only (a same-size edit within the
# second was missed). Re-imports under --modules purge then cost a stat.
from importlib.machinery import SourceFileLoader as _SourceFileLoader
_loader_get_code = _SourceFileLoader.get_code
_helper_code = {}  # path -> (stamp, code)


def _get_code(self, fullname):
    path = self.path
    if not isinstance(path, str) or path.startswith(_keep):
        return _loader_get_code(self, fullname)
    try:
        st = os.stat(path)
    except OSError:
        return _loader_get_code(self, fullname)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
    e = _helper_code.get(path)
    if e is not None and e[0] == stamp:
        return e[1]
    code = self.source_to_code(self.get_data(path), path)
    _helper_code[path] = (stamp, code)
    return code


_SourceFileLoader.get_code = _get_code


def _purge_modules(marker):
    """Drop modules imported during the request from the user's own tree."""
    added = []
    for name in reversed(sys.modules):
        if name == marker:
            break
        added.append(name)
    else:
        return  # the marker is gone: do not guess
    for name in added:
        m = sys.modules.get(name)
        f = getattr(m, "__file__", None)
        if f and not f.startswith(_keep):
            del sys.modules[name]
            _close_connections(vars(m))


def _close_connections(namespace):
    """Close the sqlite3 connections a dropped module or script kept in its
    globals (70): their process would have ended, rolling back what they
    had not committed, and a reference cycle (3.11's statement cache)
    would otherwise keep them, and their locks, until a garbage collection."""
    sq = sys.modules.get("sqlite3")
    if sq is None:
        return
    conn = getattr(sq, "Connection", None)
    if conn is None:
        return
    for v in list(namespace.values()):
        if isinstance(v, conn):
            try:
                v.close()
            except Exception:
                pass



# ---------------------------------------------------------------------
# Modules warmcgi brings (cgi and cgitb on Python 3.13+, case 92): found
# only when the interpreter's own library lacks them, so 3.11 and 3.12
# keep their standard modules.


class _PylibFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is None and name in _PYLIB:
            from importlib.util import spec_from_loader
            return spec_from_loader(name, _PylibFinder, origin="warmcgi:" + name)
        return None

    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def exec_module(module):
        name = module.__name__
        code = compile(_PYLIB[name], "<warmcgi>/%s.py" % name, "exec", dont_inherit=True)
        exec(code, module.__dict__)


sys.meta_path.append(_PylibFinder)

# Packages that cannot live in a sub-interpreter (81). numpy's C core keeps
# process-wide state: it loads in a first sub-interpreter with a warning,
# and the next sub-interpreter that imports it (another worker, or the
# same worker recycled) crashes the whole server (measured with Debian's
# numpy 1.24 on 3.11). So a sub-interpreter refuses them, when installed,
# before any of their code runs (and `warmcgi check` reports them); main
# mode (_MAIN) imports them normally.
_MAIN_ONLY = frozenset(("numpy",))


class _MainOnlyFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name not in _MAIN_ONLY:
            return None
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _MainOnlyFinder
        return spec

    @staticmethod
    def create_module(spec):
        raise ImportError("warmcgi: %s does not support sub-interpreters (a second one importing it "
                          "would crash the server), so it is not loaded in one" % spec.name,
                          name=spec.name, path=spec.origin)

    @staticmethod
    def exec_module(module):
        pass


if not _MAIN:
    sys.meta_path.insert(0, _MainOnlyFinder)

# asyncio's C accelerator on 3.11 keeps its state in process-wide statics,
# made by the first interpreter that imports it: asyncio.get_event_loop()
# in another interpreter returned the first one's loop (one another script
# had closed), and its task registries hold the first interpreter's
# objects after it ends. Sub-interpreters use the pure-Python asyncio,
# which asyncio falls back to by itself (3.12 made _asyncio per-interpreter).
if not _MAIN and sys.version_info < (3, 12):
    sys.modules.setdefault("_asyncio", None)

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

# Raw file descriptors 0, 1 and 2 (33, 80): the process's are the server's,
# so a script's os.write(1, ...) goes to its response, os.read(0, n) to its
# body, open(1, "w") wraps its stdout, and closing or dup2-ing onto them
# acts on the request instead of the server.


def _write(fd, data):
    if fd in (1, 2) and _cur[fd] is not None:
        s = _cur[fd]
        if s.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        n = len(s.buf)
        s.buf += data
        s.mark = len(s.buf)
        return len(s.buf) - n
    return _os_write(fd, data)


def _read(fd, n):
    if fd == 0 and _cur[0] is not None:
        if _cur[0].closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        return _cur[0].binary().read1(n)  # at most n, as from a pipe
    return _os_read(fd, n)


def _close(fd):
    _saved_streams.pop(fd, None)
    if fd in (0, 1, 2):
        if _cur[fd] is not None:
            _cur[fd].closed = True
        return None
    return _os_close(fd)


def _closerange(lo, hi):
    # Closing descriptors a script did not open would close the server's
    # sockets: only the three standard ones are "closed", per request.
    for fd in range(max(lo, 0), min(hi, 3)):
        _close(fd)


# Redirecting the standard descriptors (Mercurial points fd 1 at stderr
# while hooks run: saved = os.dup(1); os.dup2(2, 1); ...; os.dup2(saved, 1))
# is emulated per request by re-pointing the request's streams: the
# process's own fds 0-2 are never touched.
_saved_streams = {}  # fd from os.dup(0..2) during a request -> the stream it copied
_fd_sinks = []       # _FdBuf objects to close when the request ends


class _FdBuf:
    """Stands in for a sink's buffer when a script dup2-ed a real file onto
    fd 1 or 2: what the request writes there goes to that file."""

    def __init__(self, fd):
        self.fd = os.dup(fd)
        self.n = 0

    def __iadd__(self, data):
        view = memoryview(data).cast("B")
        while view:
            k = _os_write(self.fd, view)
            view = view[k:]
        self.n += len(memoryview(data).cast("B"))
        return self

    def __len__(self):
        return self.n

    def __delitem__(self, key):
        pass  # what reached a file is not lost


def _fd_identity(fd):
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)


def _dup(fd):
    new = _os_dup(fd)
    if 0 <= fd <= 2 and _cur[1] is not None:
        _saved_streams[new] = (_cur[fd], _fd_identity(new))
    return new


def _dup2(fd, fd2, inheritable=True):
    if not 0 <= fd2 <= 2:
        _saved_streams.pop(fd2, None)
        return _os_dup2(fd, fd2, inheritable)
    if _cur[1] is None:
        raise PermissionError(errno.EPERM, "warmcgi: os.dup2() onto fd %d outside a request" % fd2)
    if 0 <= fd <= 2:
        target = _cur[fd]
    elif fd in _saved_streams and _saved_streams[fd][1] == _fd_identity(fd):
        target = _saved_streams[fd][0]
    else:
        os.fstat(fd)  # EBADF for a descriptor that is not open, as dup2 would
        target = _Sink(_cur[fd2].errors if _cur[fd2] is not None else "strict")
        target.buf = _FdBuf(fd)
        _fd_sinks.append(target.buf)
    if (fd2 == 0) != (target is None or isinstance(target, _Source)):
        raise PermissionError(errno.EPERM, "warmcgi: os.dup2(%d, %d) would mix the request's input and output" % (fd, fd2))
    _cur[fd2] = target
    return fd2


class _Unclosable(io.BufferedIOBase):
    """open(1, closefd=False): closing it leaves the request's stream open."""

    def __init__(self, proxy):
        self._proxy = proxy

    def write(self, b):
        if self.closed:
            raise _closed_error()
        return self._proxy.write(b)

    def read(self, size=-1):
        return self._proxy.read(size)

    def read1(self, size=-1):
        return self._proxy.read1(size)

    def readinto(self, b):
        return self._proxy.readinto(b)

    def flush(self):
        if not self.closed:
            self._proxy.flush()

    def fileno(self):
        return self._proxy.fileno()

    def readable(self):
        return self._proxy.readable()

    def writable(self):
        return self._proxy.writable()


def _script_code(filename):
    """Whether code of this file is the scripts' own: not the standard
    library or an installed package (_keep), not importlib's."""
    return not filename.startswith(_keep) and not filename.startswith("<frozen")


def _track_opened(f):
    """Remember a file the request's own code opened (68-69): it is closed
    (or, with a keep policy, flushed) when the request ends. Called by the
    open() replacements, so the opener is two frames up."""
    if _cur[1] is not None and _script_code(sys._getframe(2).f_code.co_filename):
        _opened.append(f)
    return f


def _open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True, opener=None):
    if type(file) is int and 0 <= file <= 2 and _cur[1] is not None:
        proxy = (_stdin, _stdout, _stderr)[file].buffer
        if not closefd:
            proxy = _Unclosable(proxy)
        if "b" in mode:
            return proxy
        return io.TextIOWrapper(proxy, encoding or "utf-8", errors or "strict", newline,
                                line_buffering=buffering == 1, write_through=True)
    return _track_opened(_io_open(file, mode, buffering, encoding, errors, newline, closefd, opener))


_opened = []  # files the script opened during the request (68, 69)

# Raw file descriptors the script's own code opens (os.open, os.pipe,
# tempfile.mkstemp) die with a CGI process if it never closes them; in the
# server they would pile up until accept() fails for every client (EMFILE).
# Those still open when the request ends are closed then, unless a live
# file or socket object still holds one (it closes it itself), and only
# while the number is still the same file (dev, inode) as at its opening.
_os_open = os.open
_os_pipe = os.pipe
_os_fstat = os.fstat
_raw_fds = []  # (fd, st_dev, st_ino)


def _opened_by_script():
    try:
        f = sys._getframe(2)
    except ValueError:  # called with no Python caller
        return False
    while f is not None and f.f_code.co_name in ("mkstemp", "_mkstemp_inner") and f.f_code.co_filename.endswith("tempfile.py"):
        f = f.f_back
    return f is not None and _script_code(f.f_code.co_filename)


def _track_fd(fd):
    try:
        st = _os_fstat(fd)
    except OSError:
        return
    _raw_fds.append((fd, st.st_dev, st.st_ino))


def _os_open_tracked(*args, **kwargs):
    fd = _os_open(*args, **kwargs)
    if _cur[1] is not None and _opened_by_script():
        _track_fd(fd)
    return fd


def _os_pipe_tracked():
    r, w = _os_pipe()
    if _cur[1] is not None and _opened_by_script():
        _track_fd(r)
        _track_fd(w)
    return r, w


os.open = _os_open_tracked
os.pipe = _os_pipe_tracked
# What os.supports_dir_fd says of os.open must hold for the replacement:
# shutil.rmtree uses its symlink-safe walk only when it does.
if _os_open in os.supports_dir_fd:
    os.supports_dir_fd.add(_os_open_tracked)


def _same_fd(entry):
    try:
        st = _os_fstat(entry[0])
    except OSError:
        return False
    return st.st_dev == entry[1] and st.st_ino == entry[2]


def _close_raw_fds():
    left = [e for e in _raw_fds if _same_fd(e)]
    _raw_fds.clear()
    if not left:
        return
    import socket
    gc.collect()  # an owner in a reference cycle closes its descriptor now
    held = set()
    for o in gc.get_objects():
        if isinstance(o, (io.FileIO, socket.socket)):
            try:
                held.add(o.fileno())
            except (OSError, ValueError):
                pass
    for e in left:
        if e[0] not in held and _same_fd(e):
            try:
                _os_close(e[0])
            except OSError:
                pass

os.write = _write
os.read = _read
os.close = _close
os.closerange = _closerange
os.dup2 = _dup2
os.dup = _dup
builtins.open = _open
io.open = _open

# Child processes (85-88): a child the script starts with inherited stdio
# writes into the response, reads the rest of the body, and gets the
# request's environment, as under CGI.
import subprocess
import threading
import inspect

_popen_init = subprocess.Popen.__init__
_popen_wait = subprocess.Popen.wait
_popen_sig = inspect.signature(_popen_init)
_readers = []  # reader threads of the request's children


def _pump(fd, sink):
    try:
        while True:
            data = _os_read(fd, 65536)
            if not data:
                break
            if not sink.closed:
                sink.buf += data
                sink.mark = len(sink.buf)
    finally:
        _os_close(fd)


def _pipe_to(sink, name):
    r, w = _os_pipe()
    t = threading.Thread(target=_pump, args=(r, sink), name="warmcgi-" + name, daemon=True)
    t._warmcgi_internal = True
    t.start()
    _readers.append(t)
    return w, t


def _popen(self, *args, **kwargs):
    if _cur[1] is None or _thread.get_ident() not in (_worker,) and not _request_thread():
        return _popen_init(self, *args, **kwargs)
    b = _popen_sig.bind(self, *args, **kwargs)
    a = b.arguments
    close = []
    threads = []
    if a.get("env") is None:
        a["env"] = _child_env()
    shared = None
    if a.get("stdin") is None:
        # The child shares the unread rest of the body with the script,
        # as a CGI child shares fd 0: what it reads is gone for the
        # script (and for the next child), what it leaves is not.
        _cur[0].materialize()
        bio = _cur[0].binary() if not _cur[0].closed else io.BytesIO()
        start = bio.tell()
        rest = bio.read()
        bio.seek(start)
        if rest:
            import tempfile
            f = tempfile.TemporaryFile()
            f.write(rest)
            f.seek(0)
            a["stdin"] = f
            shared = (f, bio, start)
        else:
            a["stdin"] = subprocess.DEVNULL
    for name, fd in (("stdout", 1), ("stderr", 2)):
        if a.get(name) is None:
            if sys.stdout is not _stdout:
                _flush(sys.stdout)
            w, t = _pipe_to(_cur[fd], name)
            a[name] = w
            close.append(w)
            threads.append(t)
    self._warmcgi_readers = threads
    self._warmcgi_stdin = shared
    try:
        _popen_init(*b.args, **b.kwargs)
    except BaseException:
        if shared is not None:
            shared[0].close()
        raise
    finally:
        for c in close:
            _os_close(c)


def _wait(self, timeout=None):
    rc = _popen_wait(self, timeout)
    for t in getattr(self, "_warmcgi_readers", ()):
        t.join(1.0)  # what the child wrote lands before wait() returns
    shared = getattr(self, "_warmcgi_stdin", None)
    if shared is not None:
        self._warmcgi_stdin = None
        f, bio, start = shared
        bio.seek(start + os.lseek(f.fileno(), 0, os.SEEK_CUR))
        f.close()
    return rc


def _request_thread():
    return getattr(threading.current_thread(), "_warmcgi_request", False)


subprocess.Popen.__init__ = _popen
subprocess.Popen.wait = _wait


def _system(command):
    rc = subprocess.call(command, shell=True)
    return rc << 8 if rc >= 0 else -rc


def _spawnvef(mode, file, args, env, func):
    path = file
    if getattr(func, "__name__", "").startswith("execvp"):
        import shutil
        path = shutil.which(file, path=(env or _child_env()).get("PATH")) or file
    p = subprocess.Popen(list(args), executable=path, env=env)
    if mode == os.P_NOWAIT:
        _children[p.pid] = p
        return p.pid
    return p.wait()


_children = {}  # os.spawn*(P_NOWAIT) children of the request, kept for its os.waitpid


def _execve(path, args, env=None):
    # os.exec* (48): the program runs as the rest of the response, with
    # the request's stdin and environment; then the request ends. As
    # under CGI, what Python had not flushed is lost.
    _lose_unflushed()
    s = _cur[1]
    if s is not None:
        s.mark = len(s.buf)
    args = list(args)
    if not args:
        raise ValueError("execv() arg 2 must not be empty")
    p = subprocess.Popen(args, executable=path, env=_child_env() if env is None else env)
    rc = p.wait()
    raise _EndRequest(rc if rc >= 0 else 128 - rc, "os.exec* of %s exited with %d" % (path, rc))


def _execv(path, args):
    _execve(path, args)


os.system = _system
os._spawnvef = _spawnvef
os.execv = _execv
os.execve = _execve
if _os_orig["execve"] in os.supports_fd:
    os.supports_fd.add(_execve)

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


def _stop_executors(cft):
    # A ThreadPoolExecutor the script left open keeps its worker threads
    # waiting for more work. A CGI process's exit shuts it down (its
    # threads finish what was submitted, then end), and so does the end of
    # the request; otherwise the join below would wait out its bound.
    for t in _started:
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
    cft = sys.modules.get("concurrent.futures.thread")
    if cft is not None and _started:
        _stop_executors(cft)
    for t in _started:
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
    _threads_left[0] = bool(_started) and any(t.is_alive() for t in _started)
    _started.clear()
    _children.clear()
    _run_exit_funcs()
    # With --modules keep or --globals keep, what the script's code set up
    # is meant to last: its files are only flushed, its handlers stay.
    keeping = _MODULES == "keep" or _GLOBALS == "keep"
    if not keeping:
        for lg, h in reversed(_added_handlers):
            try:
                lg.removeHandler(h)
                h.close()
            except Exception:
                pass
        for lg, level in _changed_levels.items():
            _set_level(lg, level)
        if "logging.config" in sys.modules:
            # dictConfig and fileConfig disable the loggers they were not
            # given (disable_existing_loggers): so would a new process's.
            for lg in list(logging.root.manager.loggerDict.values()):
                if getattr(lg, "disabled", False):
                    lg.disabled = False
    _added_handlers.clear()
    _changed_levels.clear()
    for f in _opened:
        try:
            if f.closed:
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
    os.umask(_base_umask)
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
    # builtins (F4): names a script added or replaced are put back, by
    # identity, without calling the objects' own __eq__.
    d = builtins.__dict__
    v = _dict_version(d)
    if v != _builtins_version[0] or v < 0:
        if not _same_items(d, _base_items):
            d.clear()
            d.update(_base_builtins)
        _builtins_version[0] = _dict_version(d)
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
    m = sys.modules.get("tempfile")
    if m is not None and m.tempdir is not None:
        _restore_tempdir(m)
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

# ---------------------------------------------------------------------
# Process mode (--isolation process): this interpreter is alone in its
# worker process and runs one request at a time, so what a CGI process
# does to itself is real again: fds 0-2, the C environment (children and
# C code see it), os._exit, os.abort, os.fork, os.exec*, os.system and
# subprocess. The worker process dies or is replaced instead of the
# request being emulated. Signal handlers stay emulated (the real ones
# belong to the Go runtime): os.kill of the worker itself is delivered to
# a handler the script installed, and is real otherwise. The per-request
# reset (fresh __main__, module purge, atexit, threads, logging, locale)
# stays as in the other modes.

_c_env_keys = set()  # names set in the C environment by the current request


def _proc_putenv(key, value):
    _os_orig["putenv"](key, value)
    _c_env_keys.add(os.fsencode(key))


def _proc_unsetenv(key):
    _os_orig["unsetenv"](key)
    _c_env_keys.discard(os.fsencode(key))


def _proc_setenv(env):
    """Make the C environment the request's, as execve would."""
    unsetenv, putenv = _os_orig["unsetenv"], _os_orig["putenv"]
    for k in _c_env_keys:
        unsetenv(k)
    _c_env_keys.clear()
    for k, v in env.items():
        try:
            putenv(k, v)
            _c_env_keys.add(k)
        except ValueError:
            pass  # a name execve would pass but setenv refuses ("A=B" in a name)


def _handled(sig):
    h = _signals.get(int(sig), signal.SIG_DFL)
    return callable(h) or h == signal.SIG_IGN


def _proc_kill(pid, sig):
    if _cur[1] is not None and _own(pid) and _handled(sig):
        return _deliver(sig, sys._getframe(1))
    return _os_kill(pid, sig)


def _proc_killpg(pgid, sig):
    if _cur[1] is not None and pgid in (0, os.getpgrp()) and _handled(sig):
        return _deliver(sig, sys._getframe(1))
    return _os_killpg(pgid, sig)


def _proc_raise_signal(sig):
    if _cur[1] is not None and _handled(sig):
        return _deliver(sig, sys._getframe(1))
    return _signal_orig["raise_signal"](sig)


def _main_interpreter():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            m = __import__(name)
            return m.get_current() == m.get_main()
        except Exception:
            pass
    return False


def _proc_fork():
    if _main_interpreter():
        return _os_orig["fork"]()  # CPython's own fork, with its after-fork hooks
    # In a sub-interpreter CPython's fork either refuses or, on 3.11, kills
    # the child (its after-fork code deletes every interpreter but the
    # main one): fork the process below Python instead.
    import ctypes
    libc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the GIL is held across fork
    libc.fork.restype = ctypes.c_int
    libc.fork.argtypes = ()
    pid = libc.fork()
    if pid < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    if pid == 0:
        # What CPython's after-fork hooks would do for the modules that
        # matter here: only this thread lives on, and random must not
        # repeat the parent's numbers.
        try:
            threading._after_fork()
        except Exception:
            pass
        r = sys.modules.get("random")
        if r is not None:
            r.seed()
    return pid


def _proc_child_exit(code, err):
    """A forked child ran off the end of the script: exit as python3 would
    (atexit handlers, non-daemon threads, flushed stdio), never returning
    into the worker, whose Go runtime did not survive the fork."""
    try:
        _run_exit_funcs()
        threading._shutdown()
    except BaseException:
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass
    if err.buf:
        try:
            _os_orig["write"](2, bytes(err.buf))
        except OSError:
            pass
    _os_exit(code & 0xFF)


def _proc_open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True, opener=None):
    return _track_opened(_io_open(file, mode, buffering, encoding, errors, newline, closefd, opener))


def _proc_end(unbuffered):
    """The script is done: flush its streams (exit would), then detach fds
    0-2 from the request, so the server sees EOF on its pipes unless a
    child still holds them, as under CGI."""
    std = _real_std.get(unbuffered, ())
    for f in std[1:]:
        try:
            f.flush()
        except BaseException:
            pass
    null = _os_open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        _os_dup2(null, fd)
    _os_close(null)
    if std:
        # What stdin read ahead of the script belongs to this request.
        try:
            std[0].read()
        except BaseException:
            std[0] = None


if _REAL_PROCESS:
    for _name in ("_exit", "abort", "fork", "forkpty", "write", "read", "close", "closerange", "dup", "dup2",
                  "system", "execv", "execve", "_spawnvef", "setuid", "seteuid", "setreuid", "setresuid",
                  "setgid", "setegid", "setregid", "setresgid", "setgroups", "initgroups", "chroot",
                  "setsid", "setpgrp", "nice"):
        if _name in _os_orig:
            setattr(os, _name, _os_orig[_name])
    os.putenv = _proc_putenv
    os.unsetenv = _proc_unsetenv
    os.kill = _proc_kill
    os.killpg = _proc_killpg
    os.fork = _proc_fork
    signal.raise_signal = _proc_raise_signal
    builtins.open = io.open = _proc_open
    subprocess.Popen.__init__ = _popen_init
    subprocess.Popen.wait = _popen_wait
    if "_resource_setrlimit" in globals():
        resource.setrlimit = _resource_setrlimit
    if "_faulthandler_enable_orig" in globals():
        faulthandler.enable = _faulthandler_enable_orig

# Globals kept between requests (--globals keep): path -> __main__ module.
_kept_main = {}

# The code cache: path -> (stamp, code, compile error text, failure, loader,
# sys.executable for the script, the script's directory).
_cache = {}


def _load(path, stamp):
    optimize = (stamp[4] >> 1) & 3
    from importlib.machinery import SourceFileLoader
    loader = SourceFileLoader("__main__", path)
    try:
        with io.open_code(path) as f:
            source = f.read()
        # Compiled from bytes so PEP 263 cookies and a BOM are honoured (9).
        code = compile(source, path, "exec", dont_inherit=True, optimize=optimize)
    except SyntaxError as e:
        import traceback
        text = "".join(traceback.format_exception_only(type(e), e))
        return (stamp, None, text, "%s: %s" % (type(e).__name__, e), loader, _shebang_executable(source),
                os.path.dirname(path))
    except OSError as e:
        text = "%s: can't open file %r: [Errno %s] %s\n" % (sys.executable or "python3", path, e.errno, e.strerror)
        return (stamp, None, text, "%s: %s" % (type(e).__name__, e), loader, _base_executable,
                os.path.dirname(path))
    return (stamp, code, "", "", loader, _shebang_executable(source), os.path.dirname(path))


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
        import shutil
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
    import re
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
    err.buf += ("warmcgi: module %r cannot load in a sub-interpreter; serve this script with "
                "--isolation-for '%s=main' (or --isolation process)\n"
                % ((name or "?").partition(".")[0], os.path.basename(path))).encode("utf-8", "backslashreplace")


def _report(e):
    """Report an uncaught exception through the current sys.excepthook (40)."""
    tb = e.__traceback__
    if tb is not None:
        tb = tb.tb_next  # drop _run's own frame: the script's is first
    e.__traceback__ = tb
    hook = sys.excepthook
    try:
        hook(type(e), e, tb)
        return
    except BaseException as hook_error:
        failed = hook_error
    # The hook failed (or stderr is closed): the traceback still reaches
    # the server log, written straight into the request's stderr.
    import traceback
    text = "".join(traceback.format_exception(type(e), e, tb))
    if hook is not sys.__excepthook__:
        text += "Error in sys.excepthook:\n" + "".join(
            traceback.format_exception(type(failed), failed, failed.__traceback__))
    if _cur[2] is not None:
        _cur[2].buf += text.encode("utf-8", "backslashreplace")


def _flush(stream):
    if stream is _stdout or stream is _stderr or stream is None:
        return
    try:
        stream.flush()
    except BaseException as e:
        _stderr.write("Exception ignored while flushing %r: %r\n" % (stream, e))


def _run(path, stamp, env, args, body, stream, own_cwd, reader=0):
    global _late, _gen, _worker
    _gen += 1
    # Requests run on whichever thread the server calls from: the
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
        _proc_setenv(env)
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
        g["__annotations__"] = {}
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

    exit_code = 0
    failure = ""
    try:
        code = entry[1]
        if code is None:
            err.buf += entry[2].encode("utf-8", "backslashreplace")
            exit_code, failure = 1, entry[3]
        else:
            try:
                try:
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
                exit_code, failure = e.code, e.why
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
            exit_code, failure = e.code, e.why
    finally:
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
        if _MODULES == "purge":
            _purge_modules(marker)
        _restore_interpreter()
        _set_environ(_idle_env)
        _drop_async()  # a timer that fired too late
        _deadline[0] = 0.0
        _drop_async()  # a timeout that fired as the script ended
        late, _late = _late, bytearray()
    left, _threads_left[0] = _threads_left[0], False
    return (exit_code, out.buf, err.buf, failure, late, compiled, left)




def _finish():
    """Before the interpreter ends: join its threads (Py_EndInterpreter
    aborts the process if any other thread is left). False means one is
    still running, and the interpreter must be left alone."""
    import time
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


# Last: builtins as the runtime leaves them (process mode replaces open()
# above), the state every request's changes are undone to (F4).
_base_builtins = dict(builtins.__dict__)
_base_items = tuple(x for item in _base_builtins.items() for x in item)
_builtins_version[0] = _dict_version(builtins.__dict__)
