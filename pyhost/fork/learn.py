# The fork template's learned imports and sub-templates: fork.go sends
# template.py, then this, then runtime/importwarn.py and the call of
# _main, as one source; the names this uses are theirs.

# ---------------------------------------------------------------------
# Learned imports: a child reports the library modules (standard library
# and installed packages, not the scripts' own) its script imported that
# its template lacks. The template itself stays lean (a larger process
# makes every fork dearer: measured, hello.py forked from a template that
# had learned Django and Mercurial cost three times the CPU of one forked
# from this one), and forks, per set of modules a script needs, a
# sub-template that imports them and forks that script's requests; the
# scripts that need nothing more fork from the template, and each script
# sees the modules its own imports bring, as under CGI. At most
# _SUBS_MAX sub-templates: past that, the least recently used one's
# scripts and the new one share a sub-template with both sets.
#
# State lives in a directory the server keeps across templates (SIGHUP, a
# death): "learned" (records "path\0names\0", appended by children),
# "deny" (never again) and "importing.PID" (the import under way in a
# sub-template: one that dies there denies it). A module that starts a
# thread (a template must stay single-threaded) or fails when imported is
# denied; one that starts a thread ends the sub-template, and another is
# made without it. A module whose import warns is kept, its warnings
# replayed in the children (_learn_import).
_SUBS_MAX = 8
# What runtime/importwarn.py, sent after this file, takes from the runtime.
from _thread import get_ident as _get_ident  # noqa: E402

_learn_dir = ""
_learn_seen = 0  # bytes of "learned" read so far
_lib_dirs = tuple(os.path.join(p, "") for p in sys.path if p)
_denied = set()  # as last read from "deny": children do not report these
_paths = {}  # script path -> {module name: None} it was seen to import, in order
_path_key = {}  # script path -> the key of the sub-template its requests go to
_subs = {}  # key (frozenset of module names) -> _Sub, those in service or starting
_subs_by_fd = {}  # socket fd -> _Sub, also the retired ones still finishing
_failed = {}  # key -> how many of its sub-templates died
_sub_key = None  # in a sub-template: the modules it imported for its scripts
_child_path = None  # in a child: its script
_Module = type(sys)
_clock = 0


def _tick():
    global _clock
    _clock += 1
    return _clock


class _Sub:
    """A sub-template, as the template sees it."""

    def __init__(self, pid, sock, key, names):
        self.pid, self.sock, self.key, self.names = pid, sock, key, names
        self.ready = False
        self.retired = False
        self.paths = set()
        self.pending = {}  # request id -> (payload, fds) until started, then None until exited
        self.used = _tick()


def _learn_file(name):
    return os.path.join(_learn_dir, name)


def _learn_names(name):
    try:
        with open(_learn_file(name), "rb") as f:
            return [n.decode() for n in f.read().split()]
    except OSError:
        return []


def _learn_deny(name):
    _denied.add(name)
    with open(_learn_file("deny"), "ab") as f:
        f.write(name.encode() + b"\n")


def _learn_import(name):
    """Import a learned module into a sub-template; False if denied.
    The warnings its import emits, and those of every module it loads, are
    recorded as the embedded runtime records them (runtime/importwarn.py,
    sent after this file), not shown: in a child, as in a request of the
    runtime (_wrequest_begin), the first import of such a module replays
    its warnings, through the script's filters, as a new process would
    emit them (cgi's DeprecationWarning for a script that imports it
    itself, nothing for one whose Django imported it first)."""
    import importlib
    import threading

    importing = _learn_file("importing.%d" % os.getpid())
    with open(importing, "wb") as f:
        f.write(name.encode())
    ok = True
    boot = sys.modules["_frozen_importlib"]
    _learn_orig[0] = boot._load_unlocked
    boot._load_unlocked = _learn_load
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # recorded by importwarn.py's entry ahead of this one
            try:
                importlib.import_module(name)
            except BaseException:
                ok = False
    finally:
        boot._load_unlocked = _learn_orig[0]
    os.unlink(importing)
    if not ok:
        _learn_deny(name)
    if threading.active_count() > 1 or len(os.listdir("/proc/self/task")) > 1:
        _learn_deny(name)
        print("warmcgi fork template: importing %s started a thread; a new template is made without it" % name,
              file=sys.stderr)
        os._exit(75)  # before it is ready: the template makes another
    return ok


_learn_orig = [None]  # importlib's _load_unlocked while _learn_import wraps it


def _learn_load(spec):
    return _warn_load(spec, _learn_orig[0])


def _learn():
    """Read what children learned since the last call; give the scripts
    that need more modules sub-templates that have them."""
    global _learn_seen
    if not _learn_dir:
        return
    path = _learn_file("learned")
    try:
        size = os.stat(path).st_size
    except OSError:
        return
    if size <= _learn_seen:
        return
    with open(path, "rb") as f:
        f.seek(_learn_seen)
        new = f.read(size - _learn_seen)
    parts = new.split(b"\0")
    records = (len(parts) - 1) // 2
    _learn_seen += sum(len(parts[i]) + 1 for i in range(2 * records))
    changed = {}
    for i in range(records):
        script = os.fsdecode(parts[2 * i])
        have = _paths.setdefault(script, {})
        for n in parts[2 * i + 1].decode().split():
            if n not in have:
                have[n] = None
                changed[script] = None
    if changed:
        _denied.update(_learn_names("deny"))
    for script in changed:
        _assign(script)


def _assign(script):
    """Route script to a sub-template that has what it was seen to import."""
    names = [n for n in _paths.get(script, ()) if n not in _denied and n not in _template_modules]
    key = frozenset(names)
    old = _subs.get(_path_key.get(script))
    if old is not None and key <= old.key:
        return
    sub = _subs.get(key)
    if sub is None and key and _failed.get(key, 0) < 2:
        if len(_subs) >= _SUBS_MAX:
            # The least recently used sub-template's scripts move to one
            # that has their modules and these.
            victim = min(_subs.values(), key=lambda s: s.used)
            names += [n for n in victim.names if n not in key]
            key = frozenset(names)
            sub = _subs.get(key)
            for p in list(victim.paths):
                _move(p, None)
                if sub is None:
                    sub = _make_sub(key, names)
                _move(p, sub)
        if sub is None:
            sub = _make_sub(key, names)
    _move(script, sub)


def _move(script, sub):
    old = _subs.get(_path_key.pop(script, None))
    if old is not None:
        old.paths.discard(script)
        if not old.paths:
            _retire(old)
    if sub is not None:
        sub.paths.add(script)
        _path_key[script] = sub.key


def _retire(sub):
    """No more requests to sub; it goes once its children are reported."""
    if _subs.get(sub.key) is sub:
        del _subs[sub.key]
    sub.retired = True
    if not sub.pending:
        _poll.unregister(sub.sock.fileno())
        del _subs_by_fd[sub.sock.fileno()]
        sub.sock.close()  # it exits at EOF; _reap collects it


def _make_sub(key, names):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            ours.detach()  # its fd is closed with the template's (_become_sub)
            _become_sub(theirs, names)
        except _Unwind:
            raise  # one of its children, with its request
        except BaseException:
            import traceback

            traceback.print_exc()
        os._exit(70)
    theirs.close()
    sub = _Sub(pid, ours, key, names)
    _subs[key] = sub
    _subs_by_fd[ours.fileno()] = sub
    _poll.register(ours.fileno(), select.POLLIN)
    return sub


def _drop_inherited():
    """In a fork: let go of the template's sockets (their fds are closed
    next) without closing whatever later takes their numbers."""
    global _spare
    _sock.detach()
    if _spare is not None:
        _spare[1].detach()
        _spare = None
    for sub in _subs_by_fd.values():
        sub.sock.detach()


def _become_sub(sock, names):
    """In a fork of the template: import names, then serve the template's
    requests for the scripts that need them."""
    global _sock, _running, _subs, _subs_by_fd, _paths, _path_key, _sub_key, _template_modules
    signal.set_wakeup_fd(-1)
    _drop_inherited()
    own = sock.fileno()
    os.closerange(3, own)  # the template's fds, and requests it holds
    os.closerange(own + 1, 1 << 20)
    _sock = sock
    _running, _subs, _subs_by_fd, _paths, _path_key = {}, {}, {}, {}, {}
    _sub_key = frozenset(names)
    _winstall()  # importwarn.py: the imports' warnings are recorded
    _import_machinery(_learn_load)
    for n in names:
        if n not in sys.modules and n not in _denied:
            _learn_import(n)
    if not _warned:
        _wuninstall()  # nothing to replay: the children import as python3 does
    _template_modules = frozenset(sys.modules)
    gc.collect()
    gc.freeze()
    _serve()


def _from_sub(sub):
    """A frame from a sub-template: ready, or a request's child started or
    exited (for the server)."""
    try:
        typ, payload, fds = _read_frame(sub.sock)
    except (EOFError, OSError):
        _sub_gone(sub)
        return
    for f in fds:
        os.close(f)
    if typ == ord("R"):
        sub.ready = True
        return
    if typ not in (ord("P"), ord("X")) or len(payload) < 12:
        return
    rid, v = struct.unpack_from("<Qi", payload)
    if typ == ord("P"):
        held = sub.pending.get(rid)
        if held is not None:
            for f in held[1]:
                os.close(f)
        if v:
            sub.pending[rid] = None
        else:
            sub.pending.pop(rid, None)
    else:
        sub.pending.pop(rid, None)
    _send(typ, payload)
    if sub.retired and not sub.pending:
        _retire(sub)


def _sub_gone(sub):
    """A sub-template died (or, retired, ended): its requests not started
    are forked from here, those running are reported ended; its scripts
    get another if it died importing (the module is denied) or had not
    died before."""
    _poll.unregister(sub.sock.fileno())
    del _subs_by_fd[sub.sock.fileno()]
    sub.sock.close()
    for rid, held in sub.pending.items():
        if held is None:
            _send(ord("X"), struct.pack("<Qi", rid, -1))
        else:
            payload, fds = held
            _rid, _flags, opt, stamp, path, _env, _argv = _decode(payload)
            _start_here(rid, payload, fds, path, stamp, opt)
    sub.pending = {}
    if sub.retired:
        return
    _subs.pop(sub.key, None)
    importing = _learn_file("importing.%d" % sub.pid)
    left = _learn_names("importing.%d" % sub.pid)
    if left:
        _learn_deny(left[0])
        os.unlink(importing)
    else:
        _failed[sub.key] = _failed.get(sub.key, 0) + 1
    print("warmcgi fork template: a sub-template (pid %d) died%s" % (sub.pid, " importing " + left[0] if left else ""),
          file=sys.stderr)
    _denied.update(_learn_names("deny"))
    for script in list(sub.paths):
        _move(script, None)
        _assign(script)


def _learn_start():
    """At the template's start: sub-templates for what was learned before."""
    if not _learn_dir:
        return
    for name in os.listdir(_learn_dir):
        if name.startswith("importing."):
            os.unlink(_learn_file(name))  # a template before this one's
    _learn()


def _learn_report():
    """In a child, after its script: the library modules it imported that
    its template lacks, for the template to learn."""
    if not _learn_dir:
        return
    names = []
    for name, m in reversed(list(sys.modules.items())):
        if name == "__main__":
            continue
        if name in _template_modules:
            break
        # The module's dict as stored: a lazily loaded module (Mercurial's
        # demandimport, importlib's LazyLoader) not yet used is not made
        # to load here, nor counted.
        lazy = not isinstance(m, _Module) or type(m).__getattribute__ is not _Module.__getattribute__
        f = None if lazy else m.__dict__.get("__file__")
        if isinstance(f, str) and f.startswith(_lib_dirs) and name not in _denied:
            names.append(name)
    if names:
        try:
            fd = os.open(_learn_file("learned"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, os.fsencode(_child_path) + b"\0" + " ".join(names).encode() + b"\0")
            finally:
                os.close(fd)
        except OSError:
            pass
