# Import-time warnings (issue 15): under CGI every request is a new
# process, so `import sre_compile` (or cgi on 3.11) warns on every
# request; a warm interpreter keeps the module and its import, warnings
# and all, never runs again. So the warnings a kept module's import emits
# are recorded as it loads (in a request, at start-up or preload: whatever
# the filters then), and a later request that imports it again gets them
# again, through its own filters at that moment: while a request runs,
# __import__ and importlib's _find_and_load see each import of a module
# whose import warned (the module stays loaded), and the first in the
# request replays its warnings (_rimport). A module whose import imported
# another that warned replays that one's too, unless the request has
# imported it already. (The modules were taken out of sys.modules for
# each request before: some 400 once Mercurial and Django were loaded,
# 50 us a request to take out and put back.)
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
_wdone = set()  # the names of _warned the request has imported (replayed or loaded)
_wtop = set()  # the top-level names of _warned's
_wactive = [False]  # a request runs: its imports of _warned's modules replay
_wseen = set()  # import statements (name, fromlist, level, importer) checked in this request
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
# __import__ and importlib's _find_and_load (_rimport, _rfind), which also
# replay a request's imports of loaded modules (below).
_base_import = builtins.__import__
_bootstrap = sys.modules["_frozen_importlib"]
_base_find = _bootstrap._find_and_load


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
    elif failed:
        if not again:
            stack[-1][0].extend(_wrebase(events, cap[2]))
        return
    elif (events or name in _warned) and not _is_extension(module):
        stack[-1][0].append(("m", name, cap[2]))
    if events and not failed:
        _warned[name] = events
        _wmods[name] = module
        _wtop.add(name.partition(".")[0])
    if name is not None and not failed:
        _wdone.add(name)  # loaded (or replayed) in this request: it warned already


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


def _wemit(category, text, k):
    """Warn as if from the code k frames out from the import statement."""
    try:
        w = category(text)
    except Exception:
        w = text
    warnings.warn(w, category, stacklevel=2 + k)


def _wemit_at(category, text, filename, lineno, module):
    """Warn as if from filename:lineno in module."""
    m = sys.modules.get(module)
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
            if name in _wdone or name not in _warned:
                continue  # imported already in this request
            _wdone.add(name)
            try:
                _wreplay(_warned[name], e[2] + ctx)
            except BaseException:
                _wdone.discard(name)
                raise
        elif kind == "r" and e[3] >= len(ctx):
            _wemit(e[1], e[2], e[3] - len(ctx))
        elif kind == "r":
            fn, ln, mod = ctx[e[3]]
            _wemit_at(e[1], e[2], fn, ln, mod)
        else:
            _wemit_at(e[1], e[2], e[3], e[4], e[5])


def _wnames(name, globals, fromlist, level):
    """The modules an import statement imports, absolute, parents first."""
    if level:
        pkg = (globals or {}).get("__package__")
        if pkg is None:
            pkg = (globals or {}).get("__name__", "")
            if (globals or {}).get("__path__") is None:
                pkg = pkg.rpartition(".")[0]
        name = _bootstrap._resolve_name(name, pkg, level)
    parts = name.split(".")
    names = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    if fromlist:
        names += [name + "." + f for f in fromlist if isinstance(f, str) and f != "*"]
    return names


def _wtouch(name):
    """An import reaches name, a loaded module whose import warned: in a
    request, the first replays its warnings; within the import of another
    module it is recorded as that one's (its warnings discarded there)."""
    stack = _wstacks.get(_get_ident())
    if not _wactive[0] or name in _wdone:
        if stack:
            _wloaded(name)
        return
    cap = _wcapture() if stack else None
    _wdone.add(name)
    try:
        _wreplay(_warned[name], ())
    except BaseException:
        _wdone.discard(name)
        if cap is not None:
            _wcapture_end(cap, None, None, True, True)
        raise
    if cap is not None:
        _wcapture_end(cap, name, _wmods.get(name), again=True)


def _wcheck(names):
    for n in names:
        if n in _warned:
            m = sys.modules.get(n)
            if m is None:
                continue  # not loaded: its import runs, and warns, again
            if m is not _wmods.get(n):
                _warned.pop(n, None)  # replaced: a new import, recorded anew
                _wmods.pop(n, None)
                continue
            _wtouch(n)


def _rimport(name, globals=None, locals=None, fromlist=(), level=0):
    if (_wactive[0] or _wstacks) and (level or name.partition(".")[0] in _wtop):
        # A statement run again in the request (a framework's imports
        # inside functions: thousands a Django page) is checked once.
        key = None
        if not _wstacks:
            try:
                key = (name, tuple(fromlist) if fromlist else None, level,
                       (globals or {}).get("__name__") if level else None)
            except TypeError:
                key = None
        if key is None or key not in _wseen:
            try:
                names = _wnames(name, globals, fromlist, level)
            except Exception:
                names = ()
            _wcheck(names)
            if key is not None:
                _wseen.add(key)
    return _base_import(name, globals, locals, fromlist, level)


def _rfind(name, import_):
    if name in _warned and (_wactive[0] or _wstacks) and name in sys.modules:
        _wcheck((name,))
    return _base_find(name, import_)


def _winstall():
    """__import__ and importlib's _find_and_load see every import from now
    on (at start-up: before the baselines are taken)."""
    builtins.__import__ = _rimport
    _bootstrap._find_and_load = _rfind


def _wuninstall():
    if builtins.__import__ is _rimport:
        builtins.__import__ = _base_import
    if _bootstrap._find_and_load is _rfind:
        _bootstrap._find_and_load = _base_find


def _wrequest_begin():
    """As a request starts: its imports replay what they would emit."""
    _wdone.clear()
    _wseen.clear()
    _wactive[0] = True


def _wrequest_end():
    _wactive[0] = False
    _wdone.clear()
    _wseen.clear()


def _import_frame(tb):
    fn = tb.tb_frame.f_code.co_filename
    return fn.startswith("<frozen importlib._bootstrap") or fn == _INTERNAL


def _strip_import_frames(e):
    """Leave the import system's frames out of the tracebacks of e and the
    exceptions it chains, as python3 does for an exception raised through
    an import: importlib's, and the runtime's named as import machinery
    (_rimport, _rfind, the loaders' wrappers). Kept when the exception was
    raised in them (not an ImportError: python3 keeps those too). For the
    uncaught exception's report (run.py, fork/template.py)."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        tb = e.__traceback__
        last = tb
        while last is not None and last.tb_next is not None:
            last = last.tb_next
        if tb is not None and (isinstance(e, ImportError) or not _import_frame(last)):
            head, prev = tb, None
            while tb is not None:
                if _import_frame(tb):
                    if prev is None:
                        head = tb.tb_next
                    else:
                        prev.tb_next = tb.tb_next
                else:
                    prev = tb
                tb = tb.tb_next
            e.__traceback__ = head
        e = e.__cause__ or e.__context__


_import_machinery(_wloaded, _warn_load, _wreplay, _wtouch, _wcheck, _rimport, _rfind)
