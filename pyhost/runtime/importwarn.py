# Import-time warnings (issue 15): under CGI every request is a new
# process, so `import sre_compile` (or cgi on 3.11) warns on every
# request; a warm interpreter keeps the module and its import, warnings
# and all, never runs again. So the warnings a kept module's import emits
# are recorded as it loads (in a request, at start-up or preload: whatever
# the filters then), and a later request that imports it again gets them
# again, through its own filters at that moment: the modules whose import
# warned are out of sys.modules while a request runs (_wstash), and
# _WarnFinder gives one back, replaying its warnings, when the request
# imports it. A module whose import imported another that warned replays
# that one's too, unless the request has imported it already.
#
# Warnings are attributed as CPython does: relative to the import
# statement (stacklevel=2 names the importing line and its module, so
# DeprecationWarning shows in __main__ only), or at a line of a kept
# module's own code. The runtime's frames between an import statement and
# the module's code are named as import machinery (_INTERNAL), which
# warnings skip, as they skip importlib's.
import builtins
import sys
import warnings

_INTERNAL = "<warmcgi importlib._bootstrap hooks>"


def _import_machinery(*funcs):
    """Name the code of funcs as import machinery, for warnings' stacklevel."""
    for f in funcs:
        f = getattr(f, "__func__", f)
        f.__code__ = f.__code__.replace(co_filename=_INTERNAL)


def _is_internal(f):
    fn = f.f_code.co_filename
    return "importlib" in fn and "_bootstrap" in fn


def _external(f):
    while f is not None and _is_internal(f):
        f = f.f_back
    return f


# Events of an import, in order: ("r", category, text, k): a warning
# attributed to the k-th frame out from the import statement (0: the
# statement's own line); ("a", category, text, filename, lineno, module):
# at a line of the imported code; ("m", name, chain): the import loaded
# module name, whose own events are _warned[name], from the frames chain
# (filename, lineno, module) between its import statement and this one's.
_warned = {}  # module name -> events of its import (only those that warned)
_wmods = {}  # module name -> the module _warned[name] belongs to
_wstash = {}  # module name -> module: out of sys.modules in this request
_wstacks = {}  # thread ident -> imports it is recording, innermost last: [events, frame, chain]
_wpending = [None, None, None]  # text, module, category of the warning being filtered
_wentry = [None]  # the recording filter while any import is recorded


class _WHook:
    """A filter field that notes what warnings' filtering matches it with."""

    def __init__(self, slot):
        self.slot = slot

    def match(self, value):
        return _wnote(self.slot, value)


class _WCatMeta(type):
    def __subclasscheck__(cls, category):
        return _wnote(2, category)


class _WCat(metaclass=_WCatMeta):
    pass


def _wnote(slot, value):
    """A field of a warning the filters are looking at; once its text,
    module and category are known it is recorded, and the filter does not
    match: what the filters behind it decide is what happens now."""
    p = _wpending
    p[slot] = value
    if p[0] is None or p[1] is None or p[2] is None:
        return True
    text, module, category = p
    p[0] = p[1] = p[2] = None
    stack = _wstacks.get(_get_ident())
    if stack:
        try:
            _wrecord(stack[-1], text, module, category)
        except Exception:
            pass
    return False


def _wrecord(cap, text, module, category):
    """Record a warning emitted while a module is being recorded, finding
    the frame it is attributed to by its module among the frames warnings'
    stacklevel could name."""
    f = sys._getframe(3)  # past _wrecord, _wnote and the hook: the code that warned
    ext = []
    while f is not None and len(ext) < 200:
        ext.append(f)
        f = _external(f.f_back)
    at = imp = None
    for i, g in enumerate(ext):
        if at is None and g.f_globals.get("__name__", "<string>") == module:
            at = i
        if g is cap[1]:
            imp = i
    if at is None:
        return  # warn_explicit with a location of its own: not replayed
    if imp is not None and at >= imp:
        cap[0].append(("r", category, text, at - imp))
    else:
        g = ext[at]
        cap[0].append(("a", category, text, g.f_code.co_filename, g.f_lineno, module))


# A module its import imports that was loaded already (earlier in the
# request, or at start-up) loads no more, but a new process would load it
# there: its import is noted as well, so that a later request that has
# not imported it yet gets its warnings with this module's. Seen through
# __import__ and importlib's _find_and_load, replaced only while an import
# is recorded.
_base_import = builtins.__import__
_bootstrap = sys.modules["_frozen_importlib"]
_base_find = _bootstrap._find_and_load


def _wimport(name, globals=None, locals=None, fromlist=(), level=0):
    if _warned:
        try:
            if level:
                pkg = (globals or {}).get("__package__")
                if pkg is None:
                    pkg = (globals or {}).get("__name__", "")
                    if (globals or {}).get("__path__") is None:
                        pkg = pkg.rpartition(".")[0]
                name_abs = _bootstrap._resolve_name(name, pkg, level)
            else:
                name_abs = name
            parts = name_abs.split(".")
            names = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
            names += [name_abs + "." + f for f in fromlist or () if isinstance(f, str) and f != "*"]
            for n in names:
                if n in _warned and n in sys.modules:
                    _wloaded(n)
        except Exception:
            pass
    return _base_import(name, globals, locals, fromlist, level)


def _wfind(name, import_):
    if name in _warned and name in sys.modules:
        try:
            _wloaded(name)
        except Exception:
            pass
    return _base_find(name, import_)


def _wloaded(name):
    """The import being recorded imports name, loaded already."""
    stack = _wstacks.get(_get_ident())
    if not stack:
        return
    cap = _wcapture()
    _wcapture_end(cap, name, None, again=True)


def _wcapture():
    """Start recording an import: called by its loader's wrapper."""
    f = _external(sys._getframe(1))
    chain = ()
    ident = _get_ident()
    stack = _wstacks.get(ident)
    if stack:
        outer = stack[-1][1]
        c = []
        g = f
        while g is not None and g is not outer:
            c.append((g.f_code.co_filename, g.f_lineno, g.f_globals.get("__name__", "<string>")))
            g = _external(g.f_back)
        if g is not None:
            chain = tuple(c)
    else:
        stack = _wstacks[ident] = []
        if builtins.__import__ is _base_import:
            builtins.__import__ = _wimport
            _bootstrap._find_and_load = _wfind
        e = _wentry[0]
        if e is None or not any(x is e for x in warnings.filters):
            e = ("default", _WHook(0), _WCat, _WHook(1), 0)
            _wentry[0] = e
            _wpending[0] = _wpending[1] = _wpending[2] = None
            warnings.filters.insert(0, e)
            warnings._filters_mutated()  # registries forget: every warning reaches the filters
    cap = [[], f, chain]
    stack.append(cap)
    return cap


def _wcapture_end(cap, name, module, failed=False, again=False):
    """Stop recording an import: keep its events for module. A failed
    import's events go to the import around it, if any; one imported
    again (again) keeps its events, already replayed."""
    ident = _get_ident()
    stack = _wstacks.get(ident, [])
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is cap:
            del stack[i:]
            break
    else:
        return
    cap[1] = None
    events = () if again else cap[0]
    if _is_extension(module):
        # An extension module is never taken out of sys.modules: C code
        # may hold it (SWIG's runtime crashed a worker on its second
        # request), so its import warnings come once per process (fork
        # mode: every request).
        events = ()
    if not stack:
        del _wstacks[ident]
        if not _wstacks:
            _wremove_entry()
            if builtins.__import__ is _wimport:
                builtins.__import__ = _base_import
            if _bootstrap._find_and_load is _wfind:
                _bootstrap._find_and_load = _base_find
    elif failed:
        if not again:
            stack[-1][0].extend(_wrebase(events, cap[2]))
        return
    elif (events or name in _warned) and not _is_extension(module):
        stack[-1][0].append(("m", name, cap[2]))
    if events and not failed:
        _warned[name] = events
        _wmods[name] = module


def _is_extension(module):
    """Whether module was loaded from a C extension file (read from its
    dict as stored: a lazily loaded module must not be made to load)."""
    try:
        f = object.__getattribute__(module, "__dict__").get("__file__")
    except (AttributeError, TypeError):
        return False
    return isinstance(f, str) and f.endswith(_EXT_SUFFIXES)


_EXT_SUFFIXES = tuple(__import__("importlib.machinery").machinery.EXTENSION_SUFFIXES)


def _wremove_entry():
    """The recording filter goes when no thread records an import."""
    e, _wentry[0] = _wentry[0], None
    lst = warnings.filters
    for i, item in enumerate(lst):
        if item is e:
            del lst[i]
            break
    warnings._filters_mutated()


def _wrebase(events, chain):
    """events relative to an import statement chain frames further in."""
    out = []
    n = len(chain)
    for e in events:
        if e[0] == "r" and n:
            k = e[3]
            if k < n:
                fn, ln, mod = chain[k]
                out.append(("a", e[1], e[2], fn, ln, mod))
            else:
                out.append(("r", e[1], e[2], k - n))
        elif e[0] == "m":
            out.append(("m", e[1], e[2] + chain))
        else:
            out.append(e)
    return out


def _warn_load(spec, load):
    """Load a module that stays loaded (load: the rest of the import),
    recording the warnings its import emits."""
    cap = _wcapture()
    try:
        m = load(spec)
    except BaseException:
        _wcapture_end(cap, None, None, True)
        raise
    _wcapture_end(cap, spec.name, m)
    return m


def _warn_reload(spec, load):
    """A request imports again a module whose import warned (_WarnLoader
    replays its warnings); within the import of another module, that one
    records it as imported."""
    if not _wstacks.get(_get_ident()):
        return load(spec)
    cap = _wcapture()
    try:
        m = load(spec)
    except BaseException:
        _wcapture_end(cap, None, None, True, True)
        raise
    _wcapture_end(cap, spec.name, m, again=True)
    return m


def _wemit(category, text, k):
    """Warn as if from the code k frames out from the import statement."""
    try:
        w = category(text)
    except Exception:
        w = text
    warnings.warn(w, category, stacklevel=2 + k)


def _wemit_at(category, text, filename, lineno, module):
    """Warn as if from filename:lineno in module."""
    m = sys.modules.get(module) or _wstash.get(module)
    g = m.__dict__ if type(m) is type(sys) else None
    registry = g.setdefault("__warningregistry__", {}) if g is not None else None
    try:
        w = category(text)
    except Exception:
        w = text
    warnings.warn_explicit(w, category, filename, lineno, module, registry, g)


def _wreplay(events, ctx):
    """Emit an import's recorded warnings again, in the request's filters
    (ctx: the frames between the live import statement and this one)."""
    for e in events:
        kind = e[0]
        if kind == "m":
            name = e[1]
            m = _wstash.pop(name, None)
            if m is None:
                continue  # imported already in this request
            sys.modules.setdefault(name, m)
            try:
                _wreplay(_warned.get(name, ()), e[2] + ctx)
            except BaseException:
                if sys.modules.get(name) is m:
                    del sys.modules[name]
                _wstash[name] = m
                raise
        elif kind == "r" and e[3] >= len(ctx):
            _wemit(e[1], e[2], e[3] - len(ctx))
        elif kind == "r":
            fn, ln, mod = ctx[e[3]]
            _wemit_at(e[1], e[2], fn, ln, mod)
        else:
            _wemit_at(e[1], e[2], e[3], e[4], e[5])


class _WarnFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        m = _wstash.get(name)
        if m is None:
            return None
        spec = m.__dict__.get("__spec__")
        origin = getattr(spec, "origin", None)
        if getattr(spec, "has_location", False):
            # The script's own directory may hold a module of that name.
            found = _PathFinder.find_spec(name, path)
            if found is None or found.origin != origin:
                return None
        from importlib.util import spec_from_loader  # lazy: loaded by then anyway

        return spec_from_loader(name, _WarnLoader(name, m), origin=origin,
                                is_package=m.__dict__.get("__path__") is not None)


class _WarnLoader:
    def __init__(self, name, module):
        self.name = name
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        _wreplay(_warned.get(self.name, ()), ())
        _wstash.pop(self.name, None)


def _wstash_all():
    """As a request starts: the modules whose import warned leave
    sys.modules, to be imported (and warn) again."""
    for name in _mstash(sys.modules, _wmods, _wstash):  # modstate.c
        del _wmods[name]
        _warned.pop(name, None)


def _wunstash():
    """As a request ends: the modules it did not import go back."""
    _munstash(sys.modules, _wstash)  # modstate.c


_import_machinery(_wimport, _wfind, _wloaded, _warn_load, _warn_reload, _wreplay, _WarnFinder.find_spec, _WarnLoader.create_module,
                  _WarnLoader.exec_module)
