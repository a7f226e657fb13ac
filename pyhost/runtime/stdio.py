# sys.stdin, sys.stdout and sys.stderr: the same objects for the
# interpreter's life, reading and writing the current request's sinks
# (sinks.py); in process mode, real files on the request's fds 0-2.
import io
import os
import sys


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
