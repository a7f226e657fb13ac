# The warmcgi runtime: installed once in every interpreter, before any
# script runs, by pyhost.c. It makes each re-execution of a cached code
# object look like a fresh `python3 script.py` started by Apache mod_cgi
# (see shared/COMPAT.md for the case numbers cited below).
#
# The runtime is split by area into the files of pyhost/runtime/, which
# runtime.go joins in a fixed order into one source, installed as one
# namespace: module-level code may use what an earlier file defined, and
# nothing outside the runtime changes until _install() (install.py, the
# last file) runs each area's install step, in order.
#
# What must stay the same object for the interpreter's life (because
# scripts and libraries capture it at import time) does: sys.stdin,
# sys.stdout, sys.stderr, their .buffer, and os.environ. What must be per
# request is behind them: the request's sinks in _cur and the environ dict.
#
# pyhost's C layer sets the interpreter's settings as globals before this
# source runs: _CHDIR (bool), _MODULES
# ("purge" or "keep"), _GLOBALS ("fresh" or "keep"), _TIMEOUT (seconds,
# 0 for none), _CGI_ESCAPE (bool), _PRELOAD (module names), _MAIN (bool:
# the main interpreter, not a sub-interpreter), _REAL_PROCESS (bool: the
# interpreter owns its worker process, see procmode.py) and _PYLIB
# (module name -> source of the modules warmcgi brings, e.g. cgi on
# 3.13+). pyhost.c adds its helpers: _emit, _read_body, _text_write,
# _async_raise, _thread_frame, _same_items, _parked and the _mstate_* functions.
#
# This file: the request's output sinks and input source, and the binary
# face of sys.stdout and sys.stderr.
import errno
import io
import os
import _thread

# The current request's streams: [stdin, stdout, stderr]; None between
# requests, so a late write can never land in a later response (43).
_cur = [None, None, None]
_late = bytearray()
_get_ident = _thread.get_ident
_worker = _get_ident()  # the thread running the current request (set by _run)
# Threads a request started write into that request's streams, and into
# the server log once it has ended, never into a later response (43).
_thread_sinks = {}  # thread ident -> [stdin, stdout, stderr] of its request
_gen = 0  # the request's number, counted by _run: an earlier request's timers do nothing


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
            _rerunnable[0] = False
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
