# Raw file descriptors 0, 1 and 2 (33, 80): the process's are the server's,
# so a script's os.write(1, ...) goes to its response, os.read(0, n) to its
# body, open(1, "w") wraps its stdout, and closing or dup2-ing onto them
# acts on the request instead of the server.
import builtins
import errno
import gc
import io
import os
import sys
import weakref

_os_write = os.write
_os_read = os.read
_os_close = os.close
_os_dup2 = os.dup2
_os_dup = os.dup
_io_open = io.open


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
    open() replacements, so the opener is two frames up. Held weakly: a
    file the script drops is flushed and closed at once, as under CPython
    (open(tmp, "w").write(text) then a rename and a read-back)."""
    if _cur[1] is not None and _script_code(sys._getframe(2).f_code.co_filename):
        try:
            _opened.add(weakref.ref(f, _opened.discard))
        except TypeError:
            # Not weakly referable (an opener's own type): its descriptor
            # is tracked instead, closed at the end unless still held.
            try:
                _track_fd(f.fileno())
            except Exception:
                pass
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


# Weak references to the files the script opened during the request (68,
# 69), each removed as its file dies: tracking must not keep a file alive
# past its last reference. (A plain set: weakref.WeakSet's iteration costs
# microseconds even when empty, at every request's end.)
_opened = set()

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
    import socket  # lazy: loaded only when a script left a descriptor open
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


def _install_fds():
    os.open = _os_open_tracked
    os.pipe = _os_pipe_tracked
    # What os.supports_dir_fd says of os.open must hold for the replacement:
    # shutil.rmtree uses its symlink-safe walk only when it does.
    if _os_open in os.supports_dir_fd:
        os.supports_dir_fd.add(_os_open_tracked)
    os.write = _write
    os.read = _read
    os.close = _close
    os.closerange = _closerange
    os.dup2 = _dup2
    os.dup = _dup
    builtins.open = _open
    io.open = _open
