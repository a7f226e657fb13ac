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
# pyhost prepends the interpreter's settings: _CHDIR (bool).
import builtins
import io
import os
import sys
import _thread

_ModuleType = type(sys)

# The current request's streams: [stdin, stdout, stderr]; None between
# requests, so a late write can never land in a later response (43).
_cur = [None, None, None]
_late = bytearray()


def _closed_error():
    return ValueError("I/O operation on closed file.")


class _Sink:
    """One request's output stream: bytes in call order (29)."""

    __slots__ = ("buf", "ok", "_closed", "_detached", "encoding", "errors", "line_buffering")

    def __init__(self, errors):
        self.buf = bytearray()
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


class _Source:
    """One request's input: the body, opened lazily (most GETs never read)."""

    __slots__ = ("body", "closed", "_bin", "_text", "encoding", "errors")

    def __init__(self, body):
        self.body = body
        self.closed = False
        self._bin = None
        self._text = None
        self.encoding = "utf-8"
        self.errors = "surrogateescape"

    def binary(self):
        if self.closed:
            raise _closed_error()
        if self._bin is None:
            self._bin = io.BytesIO(self.body)
        return self._bin

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
        s = _cur[self._fd]
        if isinstance(b, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        if s is None:
            _late.extend(b)
            return len(memoryview(b).cast("B"))
        if s.closed:
            raise _closed_error()
        n = len(s.buf)
        s.buf += b
        return len(s.buf) - n

    def writelines(self, lines):
        for b in lines:
            self.write(b)

    def flush(self):
        s = _cur[self._fd]
        if s is not None and s.closed:
            raise _closed_error()

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


class _TextOut(io.TextIOBase):
    """sys.stdout / sys.stderr: a text face over the same request sink."""

    def __init__(self, fd, name):
        self._fd = fd
        self._name = name
        self._buffer = _BinaryOut(fd, name)

    def _sink(self):
        s = _cur[self._fd]
        if s is not None:
            if s.detached:
                raise ValueError("underlying buffer has been detached")
            if s.closed:
                raise _closed_error()
        return s

    def write(self, text):
        s = _cur[self._fd]
        if type(text) is str and s is not None and s.ok:
            s.buf += text.encode(s.encoding, s.errors)
            return len(text)
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
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
        self._sink()

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


class _TextIn(io.TextIOBase):
    """sys.stdin: UTF-8 with surrogateescape, as a CGI child has (21)."""

    def __init__(self):
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


_stdin = _TextIn()
_stdout = _TextOut(1, "<stdout>")
_stderr = _TextOut(2, "<stderr>")


def _install_stdio():
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


def _putenv(key, value):
    os.fsencode(key)
    os.fsencode(value)


def _unsetenv(key):
    os.fsencode(key)


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


# The code cache: path -> (stamp, code, compile error text, failure, loader).
_cache = {}


def _load(path, stamp):
    from importlib.machinery import SourceFileLoader
    loader = SourceFileLoader("__main__", path)
    try:
        with io.open_code(path) as f:
            source = f.read()
        # Compiled from bytes so PEP 263 cookies and a BOM are honoured (9).
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        import traceback
        text = "".join(traceback.format_exception_only(type(e), e))
        return (stamp, None, text, "%s: %s" % (type(e).__name__, e), loader)
    except OSError as e:
        text = "%s: can't open file %r: [Errno %s] %s\n" % (sys.executable or "python3", path, e.errno, e.strerror)
        return (stamp, None, text, "%s: %s" % (type(e).__name__, e), loader)
    return (stamp, code, "", "", loader)


def _exit_status(e, err):
    """The exit status CPython gives a SystemExit that reaches the top (44)."""
    code = e.code
    if code is None:
        return 0, ""
    if isinstance(code, int):
        return code, "" if code == 0 else "SystemExit: %d" % code
    err.buf += (str(code) + "\n").encode("utf-8", "backslashreplace")
    return 1, "SystemExit: %s" % code


def _report(e):
    """Report an uncaught exception through the current sys.excepthook (40)."""
    tb = e.__traceback__
    if tb is not None:
        tb = tb.tb_next  # drop _run's own frame: the script's is first
    e.__traceback__ = tb
    hook = sys.excepthook
    try:
        hook(type(e), e, tb)
    except BaseException as hook_error:
        sys.__excepthook__(type(e), e, tb)
        print("Error in sys.excepthook:", file=_stderr)
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)


def _flush(stream):
    if stream is _stdout or stream is _stderr or stream is None:
        return
    try:
        stream.flush()
    except BaseException as e:
        _stderr.write("Exception ignored while flushing %r: %r\n" % (stream, e))


def _run(path, stamp, env, args, body):
    global _late
    entry = _cache.get(path)
    if entry is None or entry[0] != stamp:
        entry = _load(path, stamp)
        _cache[path] = entry

    out = _Sink("surrogateescape")
    err = _Sink("backslashreplace")
    _cur[0] = _Source(body)
    _cur[1] = out
    _cur[2] = err
    _coerce_locale(env)
    _set_environ(env)
    sys.argv = [path] + args
    script_dir = os.path.dirname(path)
    sys.path[:] = [script_dir] + _base_path
    if _CHDIR:
        # RFC 3875 7.2, and Apache: a script starts in its own directory
        # (78). This thread has its own working directory (CLONE_FS).
        os.chdir(script_dir)
    marker = next(reversed(sys.modules))

    main = _ModuleType("__main__")
    g = main.__dict__
    g["__file__"] = path
    g["__cached__"] = None
    g["__builtins__"] = builtins
    g["__loader__"] = entry[4]
    g["__annotations__"] = {}
    sys.modules["__main__"] = main

    exit_code = 0
    failure = ""
    try:
        code = entry[1]
        if code is None:
            err.buf += entry[2].encode("utf-8", "backslashreplace")
            exit_code, failure = 1, entry[3]
        else:
            try:
                exec(code, g)
            except SystemExit as e:
                exit_code, failure = _exit_status(e, err)
            except BaseException as e:
                exit_code = 1
                failure = "%s: %s" % (type(e).__name__, e)
                _report(e)
    finally:
        replaced = sys.stdout is not _stdout
        _flush(sys.stdout)
        _flush(sys.stderr)
        _install_stdio()
        sys.excepthook = sys.__excepthook__
        sys.modules["__main__"] = _orig_main
        g.clear()
        if replaced:
            # A wrapper the script put around sys.stdout.buffer must be
            # finalised now, not during a later request.
            import gc
            gc.collect()
        _cur[0] = _cur[1] = _cur[2] = None
        sys.argv = _orig_argv
        sys.path[:] = _base_path
        _purge_modules(marker)
        _set_environ(_idle_env)
        late, _late = _late, bytearray()
    return (exit_code, out.buf, err.buf, failure, late)
