# Modules: what a request imported from the scripts' own trees is dropped
# after it, helper modules' code is cached, the modules warmcgi brings
# (pylib) are offered, the ones a sub-interpreter cannot hold are refused,
# and the preloaded ones are imported at start-up.
import os
import sys
import warnings
from importlib.machinery import PathFinder as _PathFinder, SourceFileLoader as _SourceFileLoader

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
            from importlib.util import spec_from_loader  # lazy: loaded only for a pylib module
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
        spec = _PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _MainOnlyFinder
        return spec

    @staticmethod
    def create_module(spec):
        _need_mode("imports %s (it does not support sub-interpreters)" % spec.name)
        raise ImportError("warmcgi: %s does not support sub-interpreters (a second one importing it "
                          "would crash the server), so it is not loaded in one" % spec.name,
                          name=spec.name, path=spec.origin)

    @staticmethod
    def exec_module(module):
        pass


def _install_modules():
    _SourceFileLoader.get_code = _get_code
    sys.meta_path.append(_PylibFinder)
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


# Preloaded modules (83): imported once per interpreter at start-up (before any
# thread of the runtime starts: a failure ends the interpreter cleanly), so
# the first requests do not pay for them; stdlib and site-packages modules
# stay loaded under --modules purge as well.
def _install_preload():
    for name in _PRELOAD:
        __import__(name)


# cgi.escape (93): removed in 3.8 and still everywhere in old scripts;
# put back, with its 3.7 behaviour, only when asked for (--cgi-escape).
def _escape(s, quote=None):
    """Replace &, < and > in s by HTML-safe sequences; '"' too if quote."""
    import html  # lazy: loaded on the first call only
    out = html.escape(s, quote=False)
    return out.replace('"', "&quot;") if quote else out


_escape.__module__ = "cgi"
_escape.__name__ = "escape"


def _install_cgi_escape():
    if not _CGI_ESCAPE:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import cgi  # lazy: only when asked for
    if not hasattr(cgi, "escape"):
        if hasattr(cgi, "_install_escape_shim"):
            cgi._install_escape_shim()  # warmcgi's own cgi (3.13+)
        else:
            cgi.escape = _escape
