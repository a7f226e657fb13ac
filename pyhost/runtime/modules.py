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
        if f and not f.startswith(_keep) and f != _held.get(name, ("",))[0]:
            del sys.modules[name]
            _close_connections(vars(m))


# Project modules an installed package holds (15, item 1). Under --modules
# purge the scripts' own modules go after each request, and installed
# packages stay. A framework that imports a project's modules itself
# (Django's app registry, settings, URLconf and middleware through
# import_module; Pyramid's scan) keeps their classes and functions in its
# own state: purging them made the next request import second copies the
# framework never sees (Django: "Model ... was already registered", the
# admin deleting through the first class's relations). So the rule is:
# a module of the scripts' trees that code of an installed package
# imports, and every module its import imports, stays loaded with that
# package; when the file of any of them changes or goes, they are all
# dropped together with the package that holds them (every module under
# its top-level name), before the next request runs, which imports them
# all afresh, as a new CGI process would. A script's own imports (its
# __main__, its helpers, importlib.import_module called by them) are
# purged as before. The names a request rebinds in a held module are put
# back after it, as in the standard library's (state.py, _modules_end).
_installed = tuple(p for p in _keep if "-packages" in p)
_held = {}  # module name -> (file, stamp) of the project modules held
_holders = set()  # top-level names of the installed packages that hold them
_holder = [None]  # the one whose import of a project module is under way
# The installed packages' modules loaded in a request in which a hold
# formed go with the holders: a library the framework loaded with it (Pyramid's
# zope.interface) keeps caches of the framework's classes, and a framework
# imported afresh beside it went into endless recursion (3.14).
_loaded_installed = []  # installed packages' modules loaded in this request
_held_group = set()  # the names of those, for requests in which a hold formed
_held_formed = [False]  # a hold formed in this request


def _stamp(path):
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


def _importing_package():
    """The top-level name of the installed package whose code is importing
    (importlib's own frames skipped, and the runtime's named as import
    machinery: importwarn.py's __import__), or None."""
    f = sys._getframe(3)
    while f is not None and (f.f_code.co_filename.startswith("<frozen") or _is_internal(f)
                             or f.f_globals.get("__name__", "").startswith("importlib")):
        f = f.f_back
    if f is None or not f.f_code.co_filename.startswith(_installed):
        return None
    return f.f_globals.get("__name__", "").partition(".")[0] or None


def _hold_import(spec, load):
    """Import a module of the scripts' own trees (spec), held when an
    installed package imports it or it is imported while one is."""
    if _holder[0] is None:
        pkg = _importing_package() if _MODULES == "purge" else None
        if pkg is None:
            return load(spec)
        _holder[0] = pkg
        try:
            m = load(spec)
        finally:
            _holder[0] = None
        _holders.add(pkg)
        _owners.add(_script[0])
        _held_formed[0] = True
    else:
        m = load(spec)
    _held[spec.name] = (spec.origin, _stamp(spec.origin))
    _mskip.pop(spec.name, None)
    # Its packages stay with it: a held submodule whose package was
    # dropped would not be found on the package imported again.
    parent = spec.name.rpartition(".")[0]
    while parent and parent not in _held:
        pm = sys.modules.get(parent)
        f = pm.__dict__.get("__file__") if type(pm) is type(sys) else None
        if not isinstance(f, str) or f.startswith(_keep):
            break
        _held[parent] = (f, _stamp(f))
        _mskip.pop(parent, None)
        parent = parent.rpartition(".")[0]
    return m


# Held modules are found by name in sys.modules, where another script's
# own module of the same name (a second project's "models") would find
# them instead of its file. So a script that did not take part in the
# hold (_owners: the scripts in whose requests it formed or that imported
# the held modules themselves) runs with them out of sys.modules
# (_stash); when it imports one of those names, _HeldFinder gives it the
# held module only if the import would load that very file, and the
# script becomes an owner. The rest go back as the request ends.
_owners = set()  # scripts that use the held modules
_stash = {}  # name -> held module, out of sys.modules during this request
_script = [""]  # the running script's path


class _HeldFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        m = _stash.get(name)
        if m is None:
            return None
        spec = _PathFinder.find_spec(name, path)
        origin, stamp = _held.get(name, ("", None))
        if spec is None or spec.origin != origin or _stamp(origin) != stamp:
            # Another file of that name, or this one changed: imported as
            # usual (an owner's next request drops the held ones).
            return None
        from importlib.util import spec_from_loader  # lazy: loaded only with held modules
        del _stash[name]
        _owners.add(_script[0])
        return spec_from_loader(name, _HeldLoader(m), origin=spec.origin,
                                is_package=spec.submodule_search_locations is not None)


class _HeldLoader:
    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass


def _stash_held(script):
    """As a request starts: a script that is not an owner runs without the held modules."""
    if script in _owners:
        return
    for name in _held:
        m = sys.modules.pop(name, None)
        if m is not None:
            _stash[name] = m
            _unbind(name, m)


def _unstash_held():
    """As a request ends (after the purge): the held modules go back."""
    for name, m in _stash.items():
        if name in sys.modules:
            continue  # the request held another module of that name
        sys.modules[name] = m
        parent, _, child = name.rpartition(".")
        p = sys.modules.get(parent) if parent else None
        if type(p) is type(sys):
            p.__dict__.setdefault(child, m)
    _stash.clear()


def _group_held(formed):
    """As a request ends: the installed modules it loaded join the held
    group when a hold formed in it."""
    if formed:
        _held_group.update(_loaded_installed)
    _loaded_installed.clear()


def _check_held():
    """As an owner's request starts (a script that is not one runs without
    the held modules, and _HeldFinder checks the one it imports): when a
    held module's file changed or went, drop
    the held modules, the packages that hold them and the installed modules
    loaded with them (see above)."""
    for path, stamp in _held.values():
        if _stamp(path) != stamp:
            break
    else:
        return
    for name in [n for n in sys.modules
                 if n in _held or n in _held_group or n.partition(".")[0] in _holders]:
        m = sys.modules.pop(name, None)
        _unbind(name, m)
        if type(m) is type(sys):
            _close_connections(vars(m))
    _held.clear()
    _holders.clear()
    _owners.clear()
    _held_group.clear()


def _user_spec(spec):
    origin = getattr(spec, "origin", None)
    return isinstance(origin, str) and origin not in ("built-in", "frozen") and not origin.startswith(_keep)


# Imports that failed (3): a package whose __init__ raised leaves the
# submodules it had imported, and a lazy importer (importlib.util's
# LazyLoader, Mercurial's demandimport) its half-loaded and never-loaded
# modules, whose first attribute access raises: the next script's
# inspect.getmodule (cgitb) trips over them, and the failed script's next
# run sees "cannot import name" instead of its real error. Loads that
# raise are recorded (_load_unlocked, and a lazy module's load), and at
# the end of the request _drop_broken removes from sys.modules, in every
# tree: each module whose load raised and its submodules; the modules
# added during the request under a top-level package that was itself
# added then and holds a failed one (a package half imported for the
# first time goes whole); and added modules whose parent package is gone.
# Modules that were loaded before the request and did not fail stay.
_import_failed = []  # names whose load raised during the request


def _watch_load(orig):
    kept = _modules_import_with(orig)

    def _load_unlocked(spec):
        try:
            if _cur[1] is not None and _user_spec(spec):
                m = _hold_import(spec, orig)
            else:
                m = _warn_load(spec, kept)
            if _import_mark[0] is not None:
                _loaded_now.append(spec.name)
            if _cur[1] is not None:
                _loads_seen[0] = True
                origin = getattr(spec, "origin", None)
                if isinstance(origin, str) and origin.startswith(_installed):
                    _loaded_installed.append(spec.name)
            if spec.name == "logging.config":
                _wrap_logging_config(m)
            return m
        except BaseException:
            if _cur[1] is not None:
                _import_failed.append(spec.name)
            raise
    return _load_unlocked


def _watch_lazy(orig):
    def __getattribute__(self, attr):
        try:
            return orig(self, attr)
        except BaseException as e:
            if _cur[1] is not None and not _missing_name(e, self, attr):
                try:
                    _import_failed.append(object.__getattribute__(self, "__spec__").name)
                except Exception:
                    pass
            raise
    return __getattribute__


def _missing_name(e, module, attr):
    """Whether a lazy module's first attribute access raised only because
    the module, loaded whole, has no such name: hasattr(), getattr() with a
    default and `from m import name` in a try probe for optional names (the
    standard library's json, typing and email do, under Mercurial's
    demandimport), and a load that succeeded is no failed import. Its load
    raised if the loader's exec_module is on the traceback.

    From 3.12.3 (and in 3.13 and 3.14) _LazyModule answers an access made
    while its own module loads (json's decoder doing `from json import
    scanner`, a package's `from . import sub`) through
    ModuleType.__getattribute__ called directly, whose AttributeError
    names neither the module nor the name: there the module's dict is
    asked. Counted as failed, such a probe dropped json and all of
    Mercurial after every hgweb page, which then imported them again."""
    if not isinstance(e, AttributeError):
        return False
    obj = getattr(e, "obj", None)
    if obj is None and getattr(e, "name", None) is None:
        try:
            if attr in object.__getattribute__(module, "__dict__"):
                return False
        except Exception:
            return False
    elif obj is not module or e.name != attr:
        return False
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "exec_module":
            return False
        tb = tb.tb_next
    return True


def _modules_import_with(orig):
    def load(spec):
        return _modules_import(spec, orig)
    _import_machinery(load)
    return load


def _install_import_watch():
    _winstall()  # importwarn.py
    bootstrap = sys.modules.get("_frozen_importlib")
    if bootstrap is not None and hasattr(bootstrap, "_load_unlocked"):
        bootstrap._load_unlocked = _watch_load(bootstrap._load_unlocked)
        _import_machinery(bootstrap._load_unlocked)
    import importlib.util  # its _LazyModule is the lazy importers' base
    lazy = getattr(importlib.util, "_LazyModule", None)
    if lazy is not None:
        lazy.__getattribute__ = _watch_lazy(lazy.__getattribute__)
        _import_machinery(lazy.__getattribute__)
    # The runtime's frames between an import statement and the module's
    # code are skipped by warnings' stacklevel, as importlib's are
    # (importwarn.py): a module's warning names the importing line.
    _import_machinery(_hold_import, _modules_import, _HeldFinder.find_spec, _HeldLoader.create_module,
                      _HeldLoader.exec_module, _PylibFinder.exec_module)


def _drop_broken(marker):
    """Remove what the request's failed imports left half made (3)."""
    failed = set(_import_failed)
    _import_failed.clear()
    added = []
    for name in reversed(sys.modules):
        if name == marker:
            break
        added.append(name)
    added.reverse()
    added_set = set(added)
    fresh_tops = {f.partition(".")[0] for f in failed} & added_set
    drop = [n for n in list(sys.modules) if n in failed or any(n.startswith(f + ".") for f in failed)
            or (n in added_set and n.partition(".")[0] in fresh_tops)]
    for name in drop:
        _unbind(name, sys.modules.pop(name, None))
    for name in sorted(added_set, key=lambda n: n.count(".")):
        parent = name.rpartition(".")[0]
        if parent and name in sys.modules and parent not in sys.modules:
            _unbind(name, sys.modules.pop(name))


def _unbind(name, m):
    """A dropped submodule goes from its parent package's namespace too, so
    that `from package import name` imports it again."""
    parent, _, child = name.rpartition(".")
    p = sys.modules.get(parent) if parent else None
    d = getattr(p, "__dict__", None) if p is not None else None
    if type(d) is dict and m is not None and d.get(child) is m:
        del d[child]


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
        _move_now("imports %s (it does not support sub-interpreters)" % spec.name)
        raise ImportError("warmcgi: %s does not support sub-interpreters (a second one importing it "
                          "would crash the server), so it is not loaded in one" % spec.name,
                          name=spec.name, path=spec.origin)

    @staticmethod
    def exec_module(module):
        pass


def _install_modules():
    _SourceFileLoader.get_code = _get_code
    _install_import_watch()
    sys.meta_path.append(_PylibFinder)
    if _MODULES == "purge":
        sys.meta_path.insert(0, _HeldFinder)
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
