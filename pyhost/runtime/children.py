# Child processes (85-88): a child the script starts with inherited stdio
# writes into the response, reads the rest of the body, and gets the
# request's environment, as under CGI.
import inspect
import io
import os
import subprocess
import sys
import threading
import _thread

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
    # A child of the server has none of a worker's limits (--max-procs,
    # --timeout's process group): auto runs the script in process mode.
    _move_now("starts a process (%s)" % _program_name(a))
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
            import tempfile  # lazy: loaded only when a child shares the body
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


def _program_name(a):
    """The program a Popen call starts, for the log: its executable or
    first argument."""
    prog = a.get("executable") or a.get("args")
    if isinstance(prog, (list, tuple)):
        prog = prog[0] if prog else ""
    return os.path.basename(os.fsdecode(prog)) if isinstance(prog, (str, bytes, os.PathLike)) else "?"


def _request_thread():
    return getattr(threading.current_thread(), "_warmcgi_request", False)


def _system(command):
    rc = subprocess.call(command, shell=True)
    return rc << 8 if rc >= 0 else -rc


def _spawnvef(mode, file, args, env, func):
    path = file
    if getattr(func, "__name__", "").startswith("execvp"):
        import shutil  # lazy: loaded only for os.spawn*p*
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


def _install_children():
    subprocess.Popen.__init__ = _popen
    subprocess.Popen.wait = _wait
    os.system = _system
    os._spawnvef = _spawnvef
    os.execv = _execv
    os.execve = _execve
    if _os_orig["execve"] in os.supports_fd:
        os.supports_fd.add(_execve)
