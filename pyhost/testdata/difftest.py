"""Differential test: warmcgi's pylib/cgi.py and pylib/cgitb.py against the
standard library's cgi and cgitb.

    python3.11 difftest.py            # reference: the interpreter's stdlib
    python3.13 difftest.py --reference-dir /usr/lib/python3.11
                                      # reference: another version's sources

Every case runs twice, once with the reference modules and once with ours
(loaded from ../pylib under the same module names, without replacing
anything in sys.modules), and compares a canonical dump of what happened:
field names, values, file names and contents, types, headers, parser state,
bytes left unread, exceptions (type and message), printed output, warnings.
Memory addresses, dates, module paths and temporary file names are
normalised. A few checks of ours alone cover where ours differs on purpose
(see the cgi docstring). Prints "N passed, M failed"; exits 1 on a failure.
"""
import argparse
import difflib
import importlib.util
import inspect
import io
import os
import pprint
import re
import sys
import sysconfig
import tempfile
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
OURS = os.path.join(os.path.dirname(HERE), "pylib")  # pyhost/pylib, beside this testdata directory
sys.dont_write_bytecode = True  # no __pycache__ beside the embedded sources


# ---------------------------------------------------------------------------
# Loading the two implementations

def _load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)   # not put in sys.modules
    return module


def load_ours(ours_dir=OURS):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cgi = _load_file("cgi", os.path.join(ours_dir, "cgi.py"))
        cgitb = _load_file("cgitb", os.path.join(ours_dir, "cgitb.py"))
    return types.SimpleNamespace(cgi=cgi, cgitb=cgitb, label="ours",
                                 import_warnings=[str(w.message) for w in caught])


def load_reference(reference_dir):
    if reference_dir:
        # Another version's sources; 3.13+ refuses their removal notice.
        saved = warnings._deprecated
        warnings._deprecated = lambda *a, **k: None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                cgi = _load_file("cgi", os.path.join(reference_dir, "cgi.py"))
                cgitb = _load_file("cgitb", os.path.join(reference_dir, "cgitb.py"))
        finally:
            warnings._deprecated = saved
        label = "reference " + reference_dir
    else:
        # Our cgi.py would shadow the stdlib's from any directory of it on
        # the path: import with those (this script's, ours, and the cwd) out
        # of the path.
        skip = {os.path.realpath(HERE), os.path.realpath(OURS)}
        saved_path = sys.path[:]
        sys.path[:] = [p for p in sys.path
                       if p and os.path.realpath(p) not in skip and p != "."]
        try:
            for name in ("cgi", "cgitb"):
                loaded = sys.modules.get(name)
                if loaded is not None and _is_ours(loaded):
                    del sys.modules[name]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    import cgi
                    import cgitb
                except ImportError as e:
                    raise SystemExit("difftest: this Python (%s) has no stdlib cgi/cgitb (%s); "
                                     "use --reference-dir" % (sys.version.split()[0], e))
        finally:
            sys.path[:] = saved_path
        stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
        for module in (cgi, cgitb):
            where = os.path.realpath(module.__file__)
            if _is_ours(module) or os.path.dirname(where) != stdlib:
                raise SystemExit("difftest: reference %s comes from %s, not the stdlib %s"
                                 % (module.__name__, where, stdlib))
        label = "stdlib " + os.path.dirname(cgi.__file__)
    return types.SimpleNamespace(cgi=cgi, cgitb=cgitb, label=label)


def _is_ours(module):
    where = getattr(module, "__file__", None) or ""
    return os.path.dirname(os.path.realpath(where)) == os.path.realpath(OURS)


# ---------------------------------------------------------------------------
# Normalising and dumping

_ADDR = re.compile(r"0x[0-9a-fA-F]+")
_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
                   r"|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}")


class Norm:
    """Text normalisation for one run: its module paths and temp dirs."""

    def __init__(self, mods, extra=()):
        self.paths = [mods.cgi.__file__, mods.cgitb.__file__]
        self.extra = list(extra)

    def __call__(self, text):
        if isinstance(text, bytes):
            return text
        for old, new in self.extra:
            text = text.replace(old, new)
        for path in self.paths:
            base = os.path.basename(path)
            text = text.replace(path, "<MOD>/" + base)
        # Line numbers and source lines inside the module files differ;
        # the frames, function names and everything else must not.
        text = re.sub(r'(<MOD>/\w+\.py(?:"|&quot;), line )\d+', r"\1N", text)
        text = re.sub(r'(  File (?:"|&quot;)<MOD>/\w+\.py(?:"|&quot;), line N, in [^\n]*\n)'
                      r'(?:    [^\n]*\n)*', r"\1    <source>\n", text)
        text = _ADDR.sub("0xADDR", text)
        text = _DATE.sub("<DATE>", text)
        return text


def exc_dump(e, norm):
    return ("raised", type(e).__name__, norm(str(e)))


def canon(x, norm):
    """Reduce results to comparable plain data."""
    name = type(x).__name__
    if name in ("FieldStorage", "MiniFieldStorage") or hasattr(x, "FieldStorageClass"):
        return ("<%s>" % name, x.name, getattr(x, "filename", None))
    if isinstance(x, dict):
        return {canon(k, norm): canon(v, norm) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(canon(v, norm) for v in x)
    if isinstance(x, str):
        return norm(x)
    return x


def headers_dump(h):
    if h is None:
        return None
    if isinstance(h, dict):
        return ("dict", list(h.items()))
    return (type(h).__name__, list(h.items()))


def attempt(fn, norm):
    try:
        return ("ok", canon(fn(), norm))
    except Exception as e:
        return exc_dump(e, norm)


_FS_STATE = ("length", "limit", "done", "bytes_read", "innerboundary",
             "outerboundary", "qs_on_post", "encoding", "errors",
             "keep_blank_values", "strict_parsing", "max_num_fields",
             "separator", "_binary_file")


def field_dump(f, norm):
    out = {"class": type(f).__name__}
    for attr in ("name", "filename", "type", "type_options", "disposition",
                 "disposition_options"):
        out[attr] = canon(getattr(f, attr), norm)
    out["headers"] = canon(headers_dump(f.headers), norm)
    if type(f).__name__ == "MiniFieldStorage":
        out["value"] = f.value
        out["file"] = f.file
        out["list"] = f.list
        out["repr"] = norm(repr(f))
        return out
    for attr in _FS_STATE:
        out[attr] = getattr(f, attr)
    if f.file is None:
        out["file"] = None
    else:
        out["file"] = {"kind": type(f.file).__name__,
                       "pos": f.file.tell(),
                       "mode": getattr(f.file, "mode", None),
                       "encoding": getattr(f.file, "encoding", None)}
    value = f.value
    if isinstance(value, list):
        out["value"] = [field_dump(x, norm) for x in value]
    else:
        out["value"] = value
        if f.file is not None:
            out["file"]["pos_after_value"] = f.file.tell()
            out["file"]["read"] = f.file.read()
            f.file.seek(0)
    out["repr"] = norm(repr(f))
    if f.list is None:
        for what, fn in (("keys", f.keys), ("len", lambda: len(f)),
                         ("bool", lambda: bool(f)),
                         ("contains", lambda: "x" in f),
                         ("getitem", lambda: f["x"]),
                         ("getvalue", lambda: f.getvalue("x")),
                         ("getlist", lambda: f.getlist("x")),
                         ("getfirst", lambda: f.getfirst("x"))):
            out[what] = attempt(fn, norm)
        return out
    keys = f.keys()
    out["keys"] = canon(keys, norm)
    out["iter"] = canon(list(f), norm)
    out["len"] = len(f)
    out["bool"] = bool(f)
    per = {}
    for k in sorted(keys, key=repr) + ["no-such-field", None]:
        item = {"in": k in f,
                "getitem": attempt(lambda: f[k], norm),
                "getvalue": attempt(lambda: f.getvalue(k), norm),
                "getvalue_d": attempt(lambda: f.getvalue(k, "DFLT"), norm),
                "getfirst": attempt(lambda: f.getfirst(k), norm),
                "getfirst_d": attempt(lambda: f.getfirst(k, "DFLT"), norm),
                "getlist": attempt(lambda: f.getlist(k), norm)}
        per[repr(k)] = item
    out["per_key"] = per
    return out


def close_all(f):
    value = getattr(f, "list", None)
    for sub in value or ():
        close_all(sub)
    file = getattr(f, "file", None)
    if file is not None:
        try:
            file.close()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# Running one case against one implementation

class Sandbox:
    """Save and restore what the cases touch: argv, stdio, environ, hooks,
    the modules' global settings."""

    def __init__(self, mods, argv=None, environ=None, stdin=None):
        self.mods = mods
        self.argv = argv
        self.environ = environ
        self.stdin = stdin

    def __enter__(self):
        c = self.mods.cgi
        self.saved = (sys.argv, sys.stdin, sys.stdout, sys.stderr,
                      sys.excepthook, dict(os.environ),
                      c.maxlen, c.log, c.logfile, c.logfp)
        sys.argv = list(self.argv) if self.argv is not None else ["difftest"]
        if self.environ is not None:
            os.environ.clear()
            os.environ.update(self.environ)
        if self.stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(self.stdin), encoding="utf-8")
        return self

    def __exit__(self, *exc):
        c = self.mods.cgi
        (sys.argv, sys.stdin, sys.stdout, sys.stderr, sys.excepthook, env,
         c.maxlen, c.log, c.logfile, c.logfp) = self.saved
        if dict(os.environ) != env:
            os.environ.clear()
            os.environ.update(env)
        return False


def make_fp(kind, body):
    if kind == "bytes":
        return io.BytesIO(body)
    if kind == "text":
        return io.TextIOWrapper(io.BytesIO(body), encoding="utf-8")
    if kind == "text-latin1":
        return io.TextIOWrapper(io.BytesIO(body), encoding="latin-1")
    if kind == "str":
        return io.StringIO(body.decode("latin-1"))
    if kind == "noread":
        return object()
    if kind == "lineless":
        class ReadOnly:
            def __init__(self, b):
                self.b = io.BytesIO(b)

            def read(self, n=-1):
                return self.b.read(n)
        return ReadOnly(body)
    raise ValueError(kind)


def remaining(fp):
    if fp is None:
        fp = sys.stdin.buffer
    if isinstance(fp, io.TextIOWrapper):
        fp = fp.buffer
    reader = getattr(fp, "read", None)
    if reader is None:
        return None
    try:
        return fp.read()
    except Exception as e:
        return ("unreadable", type(e).__name__)


def run_fieldstorage(mods, spec):
    """spec: env, body, fp ('bytes' or another make_fp kind, or None for
    sys.stdin), kwargs, argv, maxlen, cls (None or a factory of a subclass)."""
    norm = Norm(mods)
    body = spec.get("body", b"")
    fpkind = spec.get("fp", "bytes")
    use_os_environ = spec.get("os_environ", False)
    env = spec.get("env", {})
    with Sandbox(mods, argv=spec.get("argv"),
                 environ=env if use_os_environ else None,
                 stdin=body if fpkind is None else None):
        if "maxlen" in spec:
            mods.cgi.maxlen = spec["maxlen"]
        fp = None if fpkind is None else make_fp(fpkind, body)
        cls = spec["cls"](mods.cgi) if "cls" in spec else mods.cgi.FieldStorage
        kwargs = dict(spec.get("kwargs", {}))
        if not use_os_environ:
            kwargs["environ"] = dict(env)
        if fp is not None:
            kwargs["fp"] = fp
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                form = cls(**kwargs)
            except Exception as e:
                result = {"error": exc_dump(e, norm)}
            else:
                result = {"form": field_dump(form, norm)}
                close_all(form)
            result["warnings"] = [(w.category.__name__, norm(str(w.message)))
                                  for w in caught if w.category is not ResourceWarning]
        result["unread"] = remaining(fp)
        if "calls" in spec:
            result["calls"] = list(cls.calls)
    return result


# ---------------------------------------------------------------------------
# The request corpus

B = b"----WarmBoundary7MA4YWxkTrZu0gW"


def multipart(parts, boundary=B, nl=b"\r\n", preamble=b"", epilogue=b"",
              close=True):
    out = preamble
    for headers, data in parts:
        out += b"--" + boundary + nl
        for h in headers:
            out += h + nl
        out += nl + data + nl
    if close:
        out += b"--" + boundary + b"--" + nl + epilogue
    return out


def fd(name, extra=b""):
    return b'Content-Disposition: form-data; name="' + name + b'"' + extra


def post(ctype, body, length=True, **more):
    env = {"REQUEST_METHOD": "POST"}
    if ctype is not None:
        env["CONTENT_TYPE"] = ctype
    if length is True:
        env["CONTENT_LENGTH"] = str(len(body))
    elif length is not None:
        env["CONTENT_LENGTH"] = str(length)
    env.update(more)
    return env


MPCT = "multipart/form-data; boundary=" + B.decode()

# File contents that look like trouble.
BIN_SMALL = b"\x00\x01\xff\r\n--" + B + b"x\r\n\r\r\n\n--" + B + b" \r\nend"
BIN_BIG = bytes(range(256)) * 8 + b"\r\n--" + B[:-1] + b"\r\n" + b"\r" * 5 + b"\n" * 3
# A readline(65536) split: CR as byte 65536 with its LF in the next read,
# and a boundary-like text that starts a read but not a line.
LONG_CR = b"a" * 65535 + b"\r\nafter"
LONG_FAKE = b"b" * 65536 + b"--" + B + b"\r\nstill data"
TEXT_999 = b"t" * 999
TEXT_1000 = b"t" * 1000
TEXT_1001 = b"t" * 1001
LINES_TEXT = b"line\r\n" * 300

MP_BASIC = multipart([
    ([fd(b"user")], b"alice"),
    ([fd(b"tag")], b"one"),
    ([fd(b"tag")], b"two"),
    ([fd(b"empty")], b""),
    ([fd(b"upload", b'; filename="notes.txt"'), b"Content-Type: text/plain"],
     b"hello\r\nworld\r\n"),
])

NESTED = (b"--" + B + b"\r\n" + fd(b"title") + b"\r\n\r\nPhotos\r\n"
          b"--" + B + b"\r\n" + fd(b"files") + b"\r\n"
          b"Content-Type: multipart/mixed; boundary=InnerXyz\r\n\r\n"
          b"--InnerXyz\r\n"
          b'Content-Disposition: file; filename="a.txt"\r\n'
          b"Content-Type: text/plain\r\n\r\n"
          b"contents of a\r\n"
          b"--InnerXyz\r\n"
          b'Content-Disposition: file; filename="b.bin"\r\n'
          b"Content-Type: application/octet-stream\r\n\r\n"
          b"\x00\x01\x02\r\n"
          b"--InnerXyz--\r\n"
          b"--" + B + b"\r\n" + fd(b"after") + b"\r\n\r\nlast\r\n"
          b"--" + B + b"--\r\n")


def fs_corpus():
    C = []

    def add(name, **spec):
        C.append((name, spec))

    get = lambda qs=None, **more: dict(({"QUERY_STRING": qs} if qs is not None else {}),
                                       REQUEST_METHOD="GET", **more)
    # GET and HEAD
    add("GET query", env=get("a=1&b=two&a=3"))
    add("GET empty query", env=get(""))
    add("GET blank values dropped", env=get("a=&b=2&c"))
    add("GET blank values kept", env=get("a=&b=2&c"), kwargs={"keep_blank_values": 1})
    add("GET repeated names", env=get("x=1&x=2&x=3&y=&y=4"), kwargs={"keep_blank_values": True})
    add("GET percent and plus", env=get("q=caf%C3%A9+cr%C3%A8me&sp=%20%2B+&amp=%26"))
    add("GET bad utf-8 replaced", env=get("n=%E9t%E9"))
    add("GET latin-1 encoding", env=get("n=%E9t%E9"), kwargs={"encoding": "latin-1"})
    add("GET strict bad utf-8", env=get("n=%E9"), kwargs={"errors": "strict"})
    add("GET raw non-ascii", env=get("w=\u00e9\u20ac"))
    add("GET surrogateescape", env=get("w=\udce9x"))
    add("GET separator ;", env=get("a=1;b=2&c=3"), kwargs={"separator": ";"})
    add("GET default separator with ;", env=get("a=1;b=2&c=3"))
    add("GET strict_parsing error", env=get("a=1&bad"), kwargs={"strict_parsing": 1})
    add("GET strict_parsing ok", env=get("a=1&b=2"), kwargs={"strict_parsing": 1})
    add("GET max_num_fields exceeded", env=get("a=1&b=2&c=3"), kwargs={"max_num_fields": 2})
    add("GET max_num_fields ok", env=get("a=1&b=2"), kwargs={"max_num_fields": 2})
    add("GET no QUERY_STRING argv fallback", env={"REQUEST_METHOD": "GET"},
        argv=["script.py", "x=1&y=2"])
    add("GET ISINDEX argv word", env={"REQUEST_METHOD": "GET"}, argv=["script.py", "foo\\;bar", "x"])
    add("GET ISINDEX argv word kept", env={"REQUEST_METHOD": "GET"},
        argv=["script.py", "foo"], kwargs={"keep_blank_values": 1})
    add("GET no QUERY_STRING no argv", env={"REQUEST_METHOD": "GET"})
    add("GET QUERY_STRING beats argv", env=get("a=q"), argv=["s", "a=argv"])
    add("no REQUEST_METHOD", env={"QUERY_STRING": "m=none"})
    add("no environ at all, argv", env={}, argv=["s", "z=9"])
    add("HEAD query", env={"REQUEST_METHOD": "HEAD", "QUERY_STRING": "h=1"})
    add("lower-case get", env={"REQUEST_METHOD": "get", "QUERY_STRING": "l=1"})
    add("GET ignores body and CONTENT_TYPE", env=get("a=1", CONTENT_TYPE=MPCT, CONTENT_LENGTH="5"),
        body=b"xxxxx")
    add("GET with explicit headers text/plain", env=get("raw=text"),
        kwargs={"headers": {"content-type": "text/plain"}})
    add("GET with bad headers type", env=get("a=1"), kwargs={"headers": [("a", "b")]})
    add("GET maxlen ignored", env=get("a=" + "x" * 100), maxlen=10)
    add("GET through os.environ default", env=get("via=os.environ&n=1"), os_environ=True)
    add("GET through os.environ default again", env=get("via=swapped"), os_environ=True)

    # urlencoded POST
    form = b"name=Alice+Smith&age=30&tag=a&tag=b&blank="
    add("POST urlencoded", env=post("application/x-www-form-urlencoded", form), body=form)
    add("POST urlencoded keep blank", env=post("application/x-www-form-urlencoded", form),
        body=form, kwargs={"keep_blank_values": 1})
    add("POST urlencoded charset param", env=post("application/x-www-form-urlencoded; charset=UTF-8",
                                                  form), body=form)
    add("POST + QUERY_STRING", env=post("application/x-www-form-urlencoded", b"a=body",
                                        QUERY_STRING="a=query&q=1"), body=b"a=body")
    add("POST empty body + QUERY_STRING", env=post("application/x-www-form-urlencoded", b"",
                                                   QUERY_STRING="only=query"), body=b"")
    add("POST + empty QUERY_STRING", env=post("application/x-www-form-urlencoded", b"a=1",
                                              QUERY_STRING=""), body=b"a=1")
    add("POST argv not used", env=post("application/x-www-form-urlencoded", b"a=1"),
        body=b"a=1", argv=["s", "arg=v"])
    add("POST missing CONTENT_LENGTH", env=post("application/x-www-form-urlencoded", b"a=1&b=2",
                                                length=None), body=b"a=1&b=2")
    add("POST short CONTENT_LENGTH", env=post("application/x-www-form-urlencoded", b"",
                                              length=3), body=b"a=1&b=2")
    add("POST invalid CONTENT_LENGTH", env=post("application/x-www-form-urlencoded", b"",
                                                length="abc"), body=b"a=1")
    add("POST negative CONTENT_LENGTH", env=post("application/x-www-form-urlencoded", b"",
                                                 length="-5"), body=b"a=1")
    add("POST no CONTENT_TYPE", env=post(None, b"d=default"), body=b"d=default")
    add("POST maxlen exceeded", env=post("application/x-www-form-urlencoded", b"a=" + b"x" * 40),
        body=b"a=" + b"x" * 40, maxlen=20)
    add("POST maxlen equal", env=post("application/x-www-form-urlencoded", b"a=" + b"x" * 18),
        body=b"a=" + b"x" * 18, maxlen=20)
    add("POST maxlen without length", env=post("application/x-www-form-urlencoded", b"a=" + b"x" * 40,
                                               length=None), body=b"a=" + b"x" * 40, maxlen=20)
    add("POST max_num_fields with query", env=post("application/x-www-form-urlencoded", b"a=1&b=2",
                                                   QUERY_STRING="c=3"), body=b"a=1&b=2",
        kwargs={"max_num_fields": 2})
    add("POST strict_parsing", env=post("application/x-www-form-urlencoded", b"a=1&&b"),
        body=b"a=1&&b", kwargs={"strict_parsing": 1})
    add("POST latin-1", env=post("application/x-www-form-urlencoded", b"n=\xe9t\xe9&m=%E9"),
        body=b"n=\xe9t\xe9&m=%E9", kwargs={"encoding": "latin-1"})
    add("POST utf-8 replace", env=post("application/x-www-form-urlencoded", b"n=\xe9t\xe9"),
        body=b"n=\xe9t\xe9")
    add("POST utf-8 strict", env=post("application/x-www-form-urlencoded", b"n=\xe9t\xe9"),
        body=b"n=\xe9t\xe9", kwargs={"errors": "strict"})
    add("POST separator", env=post("application/x-www-form-urlencoded", b"a=1;b=2",
                                   QUERY_STRING="c=3;d=4"), body=b"a=1;b=2",
        kwargs={"separator": ";"})
    add("POST from default sys.stdin", env=post("application/x-www-form-urlencoded", form),
        body=form, fp=None)
    add("POST from default stdin and os.environ", env=post("application/x-www-form-urlencoded", form),
        body=form, fp=None, os_environ=True)
    add("POST fp TextIOWrapper", env=post("application/x-www-form-urlencoded", form),
        body=form, fp="text")
    add("POST fp StringIO", env=post("application/x-www-form-urlencoded", form), body=form, fp="str")
    add("POST fp without read", env=post("application/x-www-form-urlencoded", form), body=form,
        fp="noread")
    add("POST fp without readline", env=post("application/x-www-form-urlencoded", form), body=form,
        fp="lineless")
    add("POST text/plain with length (3.12 TypeError)", env=post("text/plain", b"just text"),
        body=b"just text")
    add("POST json with length", env=post("application/json", b'{"a": 1}'), body=b'{"a": 1}')
    add("POST octet-stream no length", env=post("application/octet-stream", b"", length=None),
        body=b"raw\r\nbody\x00\xff")
    add("POST octet-stream no length big", env=post("application/octet-stream", b"", length=None),
        body=LINES_TEXT)
    add("POST text no length exactly 1000", env=post("text/plain", b"", length=None), body=TEXT_1000)
    add("POST text no length 1001", env=post("text/plain", b"", length=None), body=TEXT_1001)
    add("POST zero length text", env=post("text/plain", b""), body=b"ignored")
    add("PUT urlencoded", env={"REQUEST_METHOD": "PUT", "CONTENT_TYPE": "application/x-www-form-urlencoded",
                               "CONTENT_LENGTH": "3"}, body=b"p=1")
    add("PUT without type", env={"REQUEST_METHOD": "PUT"}, body=b"raw put")
    add("DELETE with query", env={"REQUEST_METHOD": "DELETE", "QUERY_STRING": "d=1"}, body=b"")
    add("outerboundary not bytes", env=post("application/x-www-form-urlencoded", b"a=1"),
        body=b"a=1", kwargs={"outerboundary": "str"})

    # multipart/form-data
    add("multipart basic", env=post(MPCT, MP_BASIC), body=MP_BASIC)
    add("multipart basic no length", env=post(MPCT, MP_BASIC, length=None), body=MP_BASIC)
    add("multipart basic from stdin", env=post(MPCT, MP_BASIC), body=MP_BASIC, fp=None)
    add("multipart basic TextIOWrapper fp", env=post(MPCT, MP_BASIC), body=MP_BASIC, fp="text")
    add("multipart StringIO fp", env=post(MPCT, MP_BASIC), body=MP_BASIC, fp="str")
    add("multipart + QUERY_STRING", env=post(MPCT, MP_BASIC, QUERY_STRING="q=1&user=fromquery"),
        body=MP_BASIC)
    add("multipart + QUERY_STRING max fields", env=post(MPCT, MP_BASIC, QUERY_STRING="q=1&r=2"),
        body=MP_BASIC, kwargs={"max_num_fields": 6})
    add("multipart + QUERY_STRING max fields ok", env=post(MPCT, MP_BASIC, QUERY_STRING="q=1&r=2"),
        body=MP_BASIC, kwargs={"max_num_fields": 7})
    add("multipart max_num_fields exceeded", env=post(MPCT, MP_BASIC), body=MP_BASIC,
        kwargs={"max_num_fields": 3})
    add("multipart keep_blank", env=post(MPCT, MP_BASIC, QUERY_STRING="e="), body=MP_BASIC,
        kwargs={"keep_blank_values": 1})
    add("multipart strict query", env=post(MPCT, MP_BASIC, QUERY_STRING="oops"), body=MP_BASIC,
        kwargs={"strict_parsing": 1})
    lf = multipart([([fd(b"a")], b"x\ny"), ([fd(b"f", b'; filename="f"')], b"1\n2\n")], nl=b"\n")
    add("multipart LF line endings", env=post(MPCT, lf), body=lf)
    files = multipart([
        ([fd(b"small", b'; filename="s.bin"'), b"Content-Type: application/octet-stream"], BIN_SMALL),
        ([fd(b"big", b'; filename="b.bin"'), b"Content-Type: application/octet-stream"], BIN_BIG),
        ([fd(b"longcr", b'; filename="l.bin"')], LONG_CR),
        ([fd(b"fake", b'; filename="k.bin"')], LONG_FAKE),
        ([fd(b"empty", b'; filename=""')], b""),
        ([fd(b"nofile", b'; filename="x.dat"')], b"\r\n\r\n"),
    ])
    add("multipart files", env=post(MPCT, files), body=files)
    add("multipart files no length", env=post(MPCT, files, length=None), body=files)
    texts = multipart([([fd(b"t999")], TEXT_999), ([fd(b"t1000")], TEXT_1000),
                       ([fd(b"t1001")], TEXT_1001), ([fd(b"lines")], LINES_TEXT),
                       ([fd(b"f999", b'; filename="a"')], TEXT_999),
                       ([fd(b"f1000", b'; filename="b"')], TEXT_1000),
                       ([fd(b"f1001", b'; filename="c"')], TEXT_1001),
                       ([fd(b"bigcr")], b"x" * 998 + b"\r\n" + b"y")])
    add("multipart spool thresholds", env=post(MPCT, texts), body=texts)
    add("multipart nested mixed", env=post(MPCT, NESTED), body=NESTED)
    add("multipart nested no length", env=post(MPCT, NESTED, length=None), body=NESTED)
    add("multipart nested max fields", env=post(MPCT, NESTED), body=NESTED, kwargs={"max_num_fields": 3})
    pre = multipart([([fd(b"a")], b"1")], preamble=b"This is a preamble\r\n--notit\r\n",
                    epilogue=b"epilogue text\r\n")
    # skip_lines() after a nested multipart: a closing boundary counts only
    # at the start of a line (here after a 65536-byte read without one).
    tail_split = NESTED[:-len(b"--" + B + b"--\r\n")] + b"y" * 65536 + b"--" + B + b"--"
    add("multipart nested, split closing at EOF", env=post(MPCT, tail_split), body=tail_split)
    tail_line = NESTED[:-len(b"--" + B + b"--\r\n")] + b"y\r\n--" + B + b"--"
    add("multipart nested, closing at EOF", env=post(MPCT, tail_line), body=tail_line)
    # A CR that ends a 65536-byte read and the LF in the next one, right
    # before the boundary: the CRLF is the boundary's, not data.
    cr_end = multipart([([fd(b"f", b'; filename="f"')], b"a" * 65535), ([fd(b"g")], b"c" * 65535)])
    add("multipart CRLF split before boundary", env=post(MPCT, cr_end), body=cr_end)
    # A part limit that falls inside a long line.
    long_line = multipart([([fd(b"f", b'; filename="f"')], b"L" * 150000), ([fd(b"z")], b"1")])
    add("multipart limit inside a long line", env=post(MPCT, long_line, length=len(long_line) - 60000),
        body=long_line)
    add("multipart preamble and epilogue", env=post(MPCT, pre), body=pre)
    open_mp = multipart([([fd(b"a")], b"1"), ([fd(b"b")], b"unterminated")], close=False)
    add("multipart no closing boundary", env=post(MPCT, open_mp), body=open_mp)
    add("multipart truncated", env=post(MPCT, MP_BASIC[:90]), body=MP_BASIC[:90])
    add("multipart short CONTENT_LENGTH", env=post(MPCT, b"", length=120), body=MP_BASIC)
    add("multipart long CONTENT_LENGTH", env=post(MPCT, b"", length=len(MP_BASIC) + 50), body=MP_BASIC)
    add("multipart empty body", env=post(MPCT, b""), body=b"")
    add("multipart only closing", env=post(MPCT, b"--" + B + b"--\r\n"), body=b"--" + B + b"--\r\n")
    plen = multipart([([fd(b"a"), b"Content-Length: 3"], b"123456")])
    add("multipart part Content-Length ignored", env=post(MPCT, plen), body=plen)
    quoted_b = b"a'()+_,-./:=? z"
    qb = multipart([([fd(b"q")], b"v")], boundary=quoted_b)
    add("multipart quoted boundary", env=post('multipart/form-data; boundary="%s"' % quoted_b.decode(), qb),
        body=qb)
    add("multipart boundary trailing space", env=post("multipart/form-data; boundary=\"ab \"", b"x"),
        body=b"x")
    add("multipart boundary too long", env=post("multipart/form-data; boundary=" + "b" * 202, b"x"),
        body=b"x")
    add("multipart boundary 201", env=post("multipart/form-data; boundary=" + "b" * 201,
                                           multipart([([fd(b"a")], b"1")], boundary=b"b" * 201)),
        body=multipart([([fd(b"a")], b"1")], boundary=b"b" * 201))
    add("multipart missing boundary", env=post("multipart/form-data", MP_BASIC), body=MP_BASIC)
    add("multipart non-ascii boundary", env=post("multipart/form-data; boundary=\u00e9t\u00e9", b"x"),
        body=b"x")
    weird = multipart([
        ([b'Content-Disposition: form-data; name="semi;colon"; filename="a;b\\"c.txt"'], b"1"),
        ([b'Content-Disposition: form-data; name="path"; filename="C:\\\\dir\\\\f.txt"'], b"2"),
        ([b"Content-Disposition: form-data; filename=noname.txt"], b"3"),
        ([b"Content-Disposition: form-data; name=unquoted"], b"4"),
        ([b'Content-Disposition: attachment; name="att"'], b"5"),
        ([b'content-disposition: FORM-DATA; NAME="Upper"'], b"6"),
        ([b"Content-Type: text/plain"], b"no disposition"),
        ([fd(b"typed"), b"Content-Type: text/html; charset=iso-8859-1"], b"<b>7</b>"),
        ([fd(b"multi-line"), b"X-Folded: first", b" second"], b"8"),
        ([fd(b"mixed", b'; filename="m.txt"'), b"Content-Type: multipart/mixed"], b"not really"),
    ])
    add("multipart odd headers", env=post(MPCT, weird), body=weird)
    lat = multipart([([b'Content-Disposition: form-data; name="n\xe9"; filename="f\xe9.txt"'], b"v\xe9"),
                     ([fd(b"t")], b"caf\xe9")])
    add("multipart latin-1", env=post(MPCT, lat), body=lat, kwargs={"encoding": "latin-1"})
    add("multipart utf-8 replace", env=post(MPCT, lat), body=lat)
    add("multipart utf-8 strict", env=post(MPCT, lat), body=lat, kwargs={"errors": "strict"})
    u8 = multipart([([fd("n\u00e9".encode())], "\u20ac\u00e9".encode()), ([fd(b"x")], b"\xff")])
    add("multipart utf-8", env=post(MPCT, u8), body=u8)
    hdronly = b"--" + B + b"\r\n" + fd(b"a") + b"\r\n"
    add("multipart headers then EOF", env=post(MPCT, hdronly), body=hdronly)
    big_text_nolen = multipart([([fd(b"big")], LINES_TEXT)])
    add("multipart big text", env=post(MPCT, big_text_nolen, length=None), body=big_text_nolen)
    add("multipart maxlen exceeded", env=post(MPCT, MP_BASIC), body=MP_BASIC, maxlen=100)
    add("multipart maxlen fine", env=post(MPCT, MP_BASIC), body=MP_BASIC, maxlen=len(MP_BASIC))
    mixed_top = multipart([([b"Content-Type: text/plain"], b"p1"), ([b"Content-Type: text/plain"], b"p2")])
    add("multipart/mixed top level", env=post("multipart/mixed; boundary=" + B.decode(), mixed_top),
        body=mixed_top)
    add("multipart via PUT", env=dict(post(MPCT, MP_BASIC), REQUEST_METHOD="PUT"), body=MP_BASIC)

    # Subclasses: make_file override and FieldStorageClass.
    def recording(cgi):
        class Recording(cgi.FieldStorage):
            calls = []

            def make_file(self):
                Recording.calls.append((self.name, self.filename, self._binary_file))
                return io.BytesIO() if self._binary_file else io.StringIO()
        return Recording
    add("subclass make_file", env=post(MPCT, texts), body=texts, cls=recording, calls=True)

    def partclass(cgi):
        class Part(cgi.FieldStorage):
            pass

        class Outer(cgi.FieldStorage):
            FieldStorageClass = Part
        return Outer
    add("FieldStorageClass", env=post(MPCT, NESTED), body=NESTED, cls=partclass)

    # Explicit headers (as parse_multipart builds them).
    def header_form(kind):
        def build(cgi):
            from email.message import Message

            def make(**kw):
                if kind == "message":
                    h = Message()
                    h["Content-Type"] = MPCT
                    h["Content-Length"] = str(len(MP_BASIC))
                else:
                    h = {"content-type": MPCT, "content-length": str(len(MP_BASIC))}
                return cgi.FieldStorage(headers=h, **kw)
            return make
        return build
    add("explicit Message headers", env={"REQUEST_METHOD": "POST"}, body=MP_BASIC,
        cls=header_form("message"))
    add("explicit dict headers", env={"REQUEST_METHOD": "POST"}, body=MP_BASIC, cls=header_form("dict"))
    return C


# ---------------------------------------------------------------------------
# The cases: each is fn(mods) -> plain data

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def register_fieldstorage_cases():
    for name, spec in fs_corpus():
        CASES.append(("FieldStorage: " + name, lambda mods, spec=spec: run_fieldstorage(mods, spec)))


def capture_stdout(fn):
    buf = io.StringIO()
    saved = sys.stdout
    sys.stdout = buf
    try:
        try:
            ret = ("ok", fn())
        except Exception as e:
            ret = ("raised", type(e).__name__, str(e))
    finally:
        sys.stdout = saved
    return ret, buf.getvalue()


def run_parse(mods, env, body, fpkind="bytes", argv=None, maxlen=None, **kwargs):
    norm = Norm(mods)
    with Sandbox(mods, argv=argv, stdin=body if fpkind is None else None):
        if maxlen is not None:
            mods.cgi.maxlen = maxlen
        fp = None if fpkind is None else make_fp(fpkind, body)
        environ = dict(env)
        try:
            result = ("ok", canon(mods.cgi.parse(fp, environ, **kwargs), norm))
        except Exception as e:
            result = exc_dump(e, norm)
        return {"result": result, "environ_after": environ, "unread": remaining(fp)}


def register_parse_cases():
    form = b"a=1&b=%E9&c=&a=\xe9"
    cases = [
        ("GET", {"REQUEST_METHOD": "GET", "QUERY_STRING": "x=1&x=2&y="}, b"", {}),
        ("GET keep blank", {"REQUEST_METHOD": "GET", "QUERY_STRING": "x=1&y="}, b"",
         {"keep_blank_values": 1}),
        ("no method sets GET", {"QUERY_STRING": "m=1"}, b"", {}),
        ("no QUERY_STRING sets it from argv", {"REQUEST_METHOD": "GET"}, b"", {"argv": ["s", "v=argv"]}),
        ("no QUERY_STRING no argv", {}, b"", {}),
        ("GET strict error", {"REQUEST_METHOD": "GET", "QUERY_STRING": "x"}, b"", {"strict_parsing": 1}),
        ("GET separator", {"REQUEST_METHOD": "GET", "QUERY_STRING": "a=1;b=2"}, b"", {"separator": ";"}),
        ("HEAD", {"REQUEST_METHOD": "HEAD", "QUERY_STRING": "h=1"}, b"", {}),
        ("POST urlencoded bytes fp (latin-1)", post("application/x-www-form-urlencoded", form), form, {}),
        ("POST urlencoded TextIOWrapper utf-8", post("application/x-www-form-urlencoded", form), form,
         {"fpkind": "text"}),
        ("POST urlencoded TextIOWrapper latin-1", post("application/x-www-form-urlencoded", form), form,
         {"fpkind": "text-latin1"}),
        ("POST urlencoded default stdin", post("application/x-www-form-urlencoded", form), form,
         {"fpkind": None}),
        ("POST + QUERY_STRING", post("application/x-www-form-urlencoded", b"a=1", QUERY_STRING="q=2"),
         b"a=1", {}),
        ("POST empty + QUERY_STRING", post("application/x-www-form-urlencoded", b"", QUERY_STRING="q=2"),
         b"", {}),
        ("POST + argv", post("application/x-www-form-urlencoded", b"a=1"), b"a=1",
         {"argv": ["s", "arg=1"]}),
        ("POST unknown type + query", post("text/plain", b"zzz", QUERY_STRING="q=1"), b"zzz", {}),
        ("POST unknown type alone", post("text/plain", b"zzz"), b"zzz", {}),
        ("POST multipart (3.12 bug)", post(MPCT, MP_BASIC), MP_BASIC, {}),
        ("POST missing CONTENT_TYPE", {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3"}, b"a=1", {}),
        ("POST missing CONTENT_LENGTH", post("application/x-www-form-urlencoded", b"a=1", length=None),
         b"a=1", {}),
        ("POST bad CONTENT_LENGTH", post("application/x-www-form-urlencoded", b"", length="x"), b"a=1", {}),
        ("POST maxlen exceeded", post("application/x-www-form-urlencoded", b"a=" + b"1" * 30),
         b"a=" + b"1" * 30, {"maxlen": 10}),
        ("POST strict", post("application/x-www-form-urlencoded", b"a=1&b"), b"a=1&b", {"strict_parsing": True}),
        ("POST separator", post("application/x-www-form-urlencoded", b"a=1;b=2", QUERY_STRING="c=3"),
         b"a=1;b=2", {"separator": ";"}),
        ("POST StringIO fp", post("application/x-www-form-urlencoded", b"a=1"), b"a=1", {"fpkind": "str"}),
        ("lower-case post is GET", {"REQUEST_METHOD": "post", "QUERY_STRING": "g=1",
                                    "CONTENT_TYPE": "application/x-www-form-urlencoded",
                                    "CONTENT_LENGTH": "3"}, b"a=1", {}),
    ]
    for name, env, body, kw in cases:
        CASES.append(("parse: " + name, lambda mods, env=env, body=body, kw=kw:
                      run_parse(mods, env, body, **kw)))


def register_parse_multipart_cases():
    files = multipart([([fd(b"a")], b"1"), ([fd(b"a")], b"2"),
                       ([fd(b"f", b'; filename="f.bin"')], BIN_SMALL),
                       ([fd(b"n")], "\u00e9".encode())])
    cases = [
        ("basic", files, {"boundary": B}, {}),
        ("with CONTENT-LENGTH", files, {"boundary": B, "CONTENT-LENGTH": len(files)}, {}),
        ("short CONTENT-LENGTH", files, {"boundary": B, "CONTENT-LENGTH": 60}, {}),
        ("latin-1", files, {"boundary": B}, {"encoding": "latin-1"}),
        ("strict errors", multipart([([fd(b"x")], b"\xff")]), {"boundary": B}, {"errors": "strict"}),
        ("str boundary", files, {"boundary": B.decode()}, {}),
        ("missing boundary", files, {}, {}),
        ("boundary with slash", multipart([([fd(b"a")], b"1")], boundary=b"a/b"), {"boundary": b"a/b"}, {}),
        ("non-ascii boundary", files, {"boundary": b"\xe9"}, {}),
        ("separator and nested", NESTED, {"boundary": B}, {"separator": ";"}),
        ("empty", b"", {"boundary": B}, {}),
    ]
    for name, body, pdict, kw in cases:
        def fn(mods, body=body, pdict=pdict, kw=kw):
            norm = Norm(mods)
            fp = io.BytesIO(body)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                try:
                    result = ("ok", canon(mods.cgi.parse_multipart(fp, dict(pdict), **kw), norm))
                except Exception as e:
                    result = exc_dump(e, norm)
            return {"result": result, "unread": fp.read()}
        CASES.append(("parse_multipart: " + name, fn))


HEADER_LINES = [
    "text/html", "text/html; charset=UTF-8", "  text/html ;  charset = \"utf-8\" ",
    'form-data; name="a;b"; filename="c\\"d;e.txt"', 'form-data; name="\\\\x"; q="\\\\\\""',
    "a; b; c=", "x;;;y=1", "x; =v", "x; Name=VALUE", 'x; a="unterminated;b=2', "", ";", "x;",
    'x; a=""', 'x; a="', 'x; filename="foo\\\\"; b=1', "attachment; filename*=UTF-8''%e2%82%ac.txt",
    "x; a=1; a=2", "x; a = \"sp ace\" ; b", 'x; a="b"c"; d=e', 'x; a="\\";"; b=1', "MULTIPART/Form-Data",
    "x; a=' single '", 'x; a="x;y;z"; b="1;2"', "x; a=\"\\\"\"", "x ; a=b ;", "x; a==b", "\tx\t;\tk=v\t",
]


def register_small_cases():
    for line in HEADER_LINES:
        CASES.append(("parse_header: %r" % line,
                      lambda mods, line=line: attempt(lambda: mods.cgi.parse_header(line), Norm(mods))))
    for s in [b"abc", "abc", "", b"", b"a" * 201, b"a" * 202, "abc ", "abc\n", b"abc\n", " abc",
              "ab\tc", "\u00e9", "a b", "-" * 70, b"\x7f", 1]:
        CASES.append(("valid_boundary: %r" % (s,),
                      lambda mods, s=s: attempt(lambda: (lambda m: m and (m.group(0), m.span()))(
                          mods.cgi.valid_boundary(s)), Norm(mods))))


@case("module: public names and defaults")
def _(mods):
    c, tb = mods.cgi, mods.cgitb
    out = {"cgi.__all__": c.__all__, "version": c.__version__, "maxlen": c.maxlen,
           "logfile": c.logfile, "logfp": c.logfp, "log is initlog": c.log is c.initlog,
           "has escape": hasattr(c, "escape"), "has parse_qs": hasattr(c, "parse_qs"),
           "bufsize": c.FieldStorage.bufsize, "FieldStorageClass": c.FieldStorage.FieldStorageClass}
    names = {}
    for mod in (c, tb):
        for name in sorted(dir(mod)):
            obj = getattr(mod, name)
            if name.startswith("_") and name != "__UNDEF__":
                continue
            if isinstance(obj, types.ModuleType):
                names[mod.__name__ + "." + name] = ("module", obj.__name__)
                continue
            if callable(obj):
                try:
                    sig = str(inspect.signature(obj))
                except (TypeError, ValueError):
                    sig = "?"
                names[mod.__name__ + "." + name] = ("callable", type(obj).__name__, sig)
            elif name not in ("__UNDEF__",) and not isinstance(obj, type):
                names[mod.__name__ + "." + name] = ("data", repr(obj))
    # The original cgitb imports warnings only to announce its removal,
    # which ours does not do (see its docstring).
    names.pop("cgitb.warnings", None)
    out["names"] = names
    fs_methods = sorted(n for n in dir(c.FieldStorage) if not n.startswith("_") or n in (
        "__getitem__", "__contains__", "__len__", "__iter__", "__bool__", "__enter__", "__exit__",
        "__getattr__", "__del__", "__repr__"))
    out["FieldStorage attrs"] = fs_methods
    out["MiniFieldStorage attrs"] = {k: v for k, v in vars(c.MiniFieldStorage).items()
                                     if not k.startswith("__")}
    # Which defaults are os.environ, bound at import (COMPAT 22).
    defaults = {}
    for fn in (c.parse, c.FieldStorage.__init__, c.test, c.print_environ):
        for p in inspect.signature(fn).parameters.values():
            d = p.default
            defaults[fn.__qualname__ + "." + p.name] = (
                "os.environ" if d is os.environ else repr(d))
    out["defaults"] = defaults
    out["cgitb UNDEF"] = tb.__UNDEF__
    return out


@case("MiniFieldStorage")
def _(mods):
    m = mods.cgi.MiniFieldStorage("n", "v")
    m2 = mods.cgi.MiniFieldStorage(None, b"x")
    return [field_dump(m, Norm(mods)), field_dump(m2, Norm(mods)), m.type_options is m2.type_options]


@case("FieldStorage: context manager, urlencoded (no file)")
def _(mods):
    def go():
        with mods.cgi.FieldStorage(environ={"REQUEST_METHOD": "GET", "QUERY_STRING": "a=1"}) as f:
            inner = f.getvalue("a")
        return inner
    return attempt(go, Norm(mods))


@case("FieldStorage: context manager, file closes")
def _(mods):
    env = post("application/octet-stream", b"", length=None)
    with mods.cgi.FieldStorage(fp=io.BytesIO(b"data"), environ=env) as f:
        kind = type(f.file).__name__
        inside = f.value
    return [kind, inside, f.file.closed]


@case("FieldStorage: value is recomputed from file")
def _(mods):
    env = post(MPCT, MP_BASIC)
    f = mods.cgi.FieldStorage(fp=io.BytesIO(MP_BASIC), environ=env)
    up = f["upload"]
    up.file.read(3)
    first = up.value
    pos = up.file.tell()
    up.file.seek(0, 2)
    up.file.write(b"more")
    second = up.value
    out = [first, pos, second, "value" in vars(up), attempt(lambda: up.missing_attr, Norm(mods))]
    close_all(f)
    return out


@case("FieldStorage: __del__ after failed construction")
def _(mods):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            mods.cgi.FieldStorage(headers=5, environ={"REQUEST_METHOD": "POST"})
        except TypeError as e:
            err = str(e)
        import gc
        gc.collect()
    return [err, [str(w.message) for w in caught]]


@case("logging: initlog/dolog/nolog/closelog")
def _(mods):
    c = mods.cgi
    norm = Norm(mods)
    out = []
    with Sandbox(mods), tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cgi.log")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c.logfile = path
            c.log("%s: %s", "first", 1)
            out.append(c.log is c.dolog)
            c.log("plain line")
            c.log("%d%%", 50)
            c.closelog()
            out.append((c.logfile, c.logfp, c.log is c.initlog))
            with open(path, encoding="utf-8") as fh:
                out.append(fh.read())
            c.logfile = os.path.join(d, "missing", "dir.log")
            c.log("nowhere %s", 1)
            out.append(c.log is c.nolog)
            c.log("still nowhere")
            c.log = c.initlog
            c.logfile = ""
            buf = io.StringIO()
            c.logfp = buf
            c.log("to %s", "logfp")
            out.append(buf.getvalue())
            c.closelog()
            out.append(buf.closed)
            out.append([(w.category.__name__, str(w.message), os.path.basename(w.filename))
                        for w in caught])
            out.append(attempt(lambda: c.dolog("%s %s", 1), norm))
    return out


def _printed(mods, fn):
    norm = Norm(mods)
    ret, text = capture_stdout(fn)
    return [canon(ret, norm), norm(text)]


@case("print_environ / print_directory / print_arguments / print_environ_usage")
def _(mods):
    c = mods.cgi
    with Sandbox(mods, argv=["script.py", "a<b>", "c&d"]):
        return [_printed(mods, lambda: c.print_environ({"B": "2<3", "A": "x&y", "Q": '"q"', "<K&>": "v"})),
                _printed(mods, lambda: c.print_environ({})),
                _printed(mods, c.print_directory),
                _printed(mods, c.print_arguments),
                _printed(mods, c.print_environ_usage)]


@case("print_form")
def _(mods):
    c = mods.cgi
    f = c.FieldStorage(fp=io.BytesIO(MP_BASIC), environ=post(MPCT, MP_BASIC))
    g = c.FieldStorage(environ={"REQUEST_METHOD": "GET", "QUERY_STRING": ""})
    out = [_printed(mods, lambda: c.print_form(f)), _printed(mods, lambda: c.print_form(g)),
           _printed(mods, lambda: c.print_form({"<k>": "v&"}))]
    close_all(f)
    return out


def _raise_for_print_exception():
    secret = "<I>not escaped?</I> & more"
    raise ValueError(secret)


@case("print_exception")
def _(mods):
    c = mods.cgi

    def current():
        try:
            _raise_for_print_exception()
        except ValueError:
            c.print_exception()

    def given():
        try:
            _raise_for_print_exception()
        except ValueError:
            e = sys.exc_info()
        c.print_exception(*e, limit=1)
    return [_printed(mods, current), _printed(mods, given)]


@case("test()")
def _(mods):
    c = mods.cgi
    env = dict(os.environ)
    env.update({"REQUEST_METHOD": "GET", "QUERY_STRING": "a=1&b=<2>"})
    with Sandbox(mods, argv=["cgi.py"], environ=env):
        res = _printed(mods, c.test)
        after = (c.maxlen, sys.stderr is sys.stdout)
    return [res, after]


@case("test() with a POST over maxlen")
def _(mods):
    c = mods.cgi
    body = b"a=" + b"x" * 80
    env = dict(os.environ)
    env.update(post("application/x-www-form-urlencoded", body))
    with Sandbox(mods, argv=["cgi.py"], environ=env, stdin=body + body):
        res = _printed(mods, c.test)
    return res


# ---------------------------------------------------------------------------
# cgitb: tracebacks raised here, formatted by both implementations.

GLOBAL_THING = {"k": [1, 2, 3], "html": "<script>&</script>"}


class Holder:
    def __init__(self):
        self.inner = types.SimpleNamespace(val=42, text="<b>&amp;</b>", items=list(range(50)))

    def method(self, how):
        local_self_ref = self.inner
        if how == "attr":
            return local_self_ref.val.nonexistent
        raise RuntimeError("in method: %r" % how)


class AppError(Exception):
    def __init__(self, msg, code):
        super().__init__(msg)
        self.code = code
        self.detail = "<x & y>"
        self._hidden = "private"


class BadRepr:
    def __repr__(self):
        raise RuntimeError("repr failed")


def level3(n, *rest, flag=True, **opts):
    h = Holder()
    bad = BadRepr()
    total = (n +
             h.inner.val +
             len(GLOBAL_THING["k"]))
    if flag:
        raise AppError('bad <thing> & "stuff" ' + str(total), code=total + len(rest) + len(opts))
    return bad


def level2(a, b=2):
    local_list = list(range(a))
    long_text = "z" * 500
    return level3(a, b, "x", flag=True, extra=local_list, text=long_text)


def level1():
    return level2(3)


def multiline(x):
    y = x * 2
    raise ValueError(
        "multi %s %s" % (y,
                         undefined_name_zzz if False else x))  # noqa: F821


def multiline_mid(x):
    y = x * 2
    return ValueError(
        "multi %s" % (y,
                      undefined_name_zzz if False else x))  # noqa: F821


def chained():
    try:
        {}["missing"]
    except KeyError as e:
        raise LookupError("wrapped <key>") from e


def implicit_chain():
    try:
        1 / 0
    except ZeroDivisionError:
        len(None)


def via_exec():
    code = "def inner(q):\n    return q / 0\ninner(7)\n"
    exec(compile(code, "<string>", "exec"), {})


def via_lambda():
    f = lambda v: [w for w in v if w.startswith("x")]  # noqa: E731
    return f([1])


def open_missing():
    open("/nonexistent-dir/<warmcgi> & difftest.txt")


def syntax_error():
    compile("def f(:\n  pass\n", "bad.py", "exec")


def with_notes():
    e = ValueError("has notes")
    if hasattr(e, "add_note"):
        e.add_note("note <one>")
    raise e


def group():
    eg = globals()["__builtins__"]
    if isinstance(eg, dict):
        EG = eg.get("ExceptionGroup")
    else:
        EG = getattr(eg, "ExceptionGroup", None)
    if EG is None:
        raise TypeError("no groups")
    raise EG("several", [ValueError("v"), TypeError("t")])


def holder_attr():
    return Holder().method("attr")


def holder_raise():
    return Holder().method("raise")


def string_exception_str():
    raise Exception("<tag>", 2, None)


def recursion(n):
    if n == 0:
        raise OverflowError("bottom")
    return recursion(n - 1)


RAISERS = [level1, lambda: multiline(5), lambda: multiline_mid(6), chained, implicit_chain, via_exec, via_lambda, open_missing,
           syntax_error, with_notes, group, holder_attr, holder_raise, string_exception_str,
           lambda: recursion(4)]


def exc_info_of(fn):
    try:
        fn()
    except BaseException:
        return sys.exc_info()
    raise AssertionError("did not raise")


EINFOS = None


def einfos():
    global EINFOS
    if EINFOS is None:
        EINFOS = [(getattr(fn, "__name__", "fn"), exc_info_of(fn)) for fn in RAISERS]
    return EINFOS


def register_cgitb_cases():
    for i, fn in enumerate(RAISERS):
        for context in (5, 0, 1, 3, 11):
            for kind in ("html", "text"):
                def run(mods, i=i, context=context, kind=kind):
                    einfo = einfos()[i][1]
                    formatter = getattr(mods.cgitb, kind)
                    norm = Norm(mods)
                    if context == 5:
                        return attempt(lambda: formatter(einfo), norm)
                    return attempt(lambda: formatter(einfo, context), norm)
                CASES.append(("cgitb.%s(%s, context=%d)" % (kind, getattr(fn, "__name__", i), context), run))
    for label, einfo in [("string etype", lambda: ("StrType<>", ValueError("x"),
                                                    exc_info_of(level1)[2])),
                         ("no traceback", lambda: (ValueError, ValueError("no tb"), None))]:
        for kind in ("html", "text"):
            CASES.append(("cgitb.%s(%s)" % (kind, label),
                          lambda mods, einfo=einfo, kind=kind:
                          attempt(lambda: getattr(mods.cgitb, kind)(einfo()), Norm(mods))))


def _handle_current(hook):
    # Only `hook` is a local here: the report must not show the harness.
    try:
        level1()
    except AppError:
        hook.handle()


def hook_run(mods, **kw):
    buf = io.StringIO()
    with tempfile.TemporaryDirectory() as d:
        norm = Norm(mods, extra=[(d, "<LOGDIR>")])
        if kw.get("logdir") == "tmp":
            kw["logdir"] = d
        elif kw.get("logdir") == "missing":
            kw["logdir"] = os.path.join(d, "no", "such")
        info = kw.pop("info", None)
        hook = mods.cgitb.Hook(file=buf, **kw)
        try:
            if info is None:
                _handle_current(hook)
            else:
                hook(*info)
        except Exception as e:
            err = exc_dump(e, norm)
        else:
            err = None
        text = norm(buf.getvalue())
        text = re.sub(r"<LOGDIR>/\S+?\.(html|txt)", r"<LOGDIR>/<FILE>.\1", text)
        if err is not None:
            err = err[:2] + (re.sub(r"<LOGDIR>/(.*?)\w+\.(html|txt)", r"<LOGDIR>/\1<FILE>.\2",
                                    err[2]),)
        saved = []
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name)) as fh:
                saved.append((os.path.splitext(name)[1], norm(fh.read())))
    return {"out": text, "saved": saved, "error": err}


def register_hook_cases():
    infos = {"None": None, "level1": lambda: exc_info_of(level1),
             "no tb": lambda: (ValueError, ValueError("no <tb>"), None),
             "OSError": lambda: exc_info_of(open_missing)}
    for fmt in ("html", "text", "other"):
        for display in (1, 0):
            for logdir in (None, "tmp", "missing"):
                for iname, info in infos.items():
                    if logdir == "missing" and iname != "level1":
                        continue
                    name = "cgitb.Hook(format=%s, display=%s, logdir=%s, info=%s)" % (
                        fmt, display, logdir, iname)

                    def run(mods, fmt=fmt, display=display, logdir=logdir, info=info):
                        return hook_run(mods, format=fmt, display=display, logdir=logdir,
                                        info=info() if info else None)
                    CASES.append((name, run))
    for context in (2, 7):
        CASES.append(("cgitb.Hook(context=%d)" % context,
                      lambda mods, context=context: hook_run(mods, context=context)))


@case("cgitb.enable() installs a Hook writing to sys.stdout")
def _(mods):
    out = []
    for kw in ({}, {"format": "text"}, {"display": 0}, {"context": 2, "format": "text"}):
        buf = io.StringIO()
        with Sandbox(mods):
            sys.stdout = buf
            mods.cgitb.enable(**kw)
            hook = sys.excepthook
            sys.stdout = io.StringIO()      # the hook keeps the stdout of enable()
            out.append((type(hook).__name__, hook.display, hook.logdir, hook.context,
                        hook.format, hook.file is buf))
            hook(*exc_info_of(level1))
        out.append(Norm(mods)(buf.getvalue()))
    return out


@case("cgitb.handler")
def _(mods):
    h = mods.cgitb.handler
    hook = h.__self__
    return [type(hook).__name__, h.__name__, hook.display, hook.logdir, hook.context,
            hook.format, hook.file is sys.__stdout__ or hook.file is sys.stdout]


@case("cgitb helpers: reset, small, strong, grey")
def _(mods):
    t = mods.cgitb
    return [t.reset(), [f(x) for f in (t.small, t.strong, t.grey) for x in ("", "x<y", None, 0, "0")]]


@case("cgitb.lookup")
def _(mods):
    t = mods.cgitb
    frame = sys._getframe()
    local_only = {"loc": 1}
    out = []
    for name in ("loc", "GLOBAL_THING", "len", "nope", "__name__"):
        where, value = t.lookup(name, frame, local_only)
        out.append((where, value is t.__UNDEF__, canon(value if value is not t.__UNDEF__ else None,
                                                        Norm(mods)) if name != "len" else "len"))
    fake = types.SimpleNamespace(f_globals={"__builtins__": {"only": 5}})
    out.append(t.lookup("only", fake, {})[0])
    out.append(t.lookup("len", fake, {})[0])
    fake2 = types.SimpleNamespace(f_globals={"__builtins__": types.SimpleNamespace(mod_attr=6)})
    out.append(t.lookup("mod_attr", fake2, {}))
    fake3 = types.SimpleNamespace(f_globals={})
    out.append(t.lookup("len", fake3, {})[0])
    return out


@case("cgitb.scanvars")
def _(mods):
    t = mods.cgitb
    frame = sys._getframe()
    obj = types.SimpleNamespace(a=types.SimpleNamespace(b=7))
    locs = {"obj": obj, "x": 1}
    out = []
    for src in ["x = obj.a.b + y.z + len(x)\n", "if x and not obj.missing.deeper: pass\n",
                "foo(\n", "  bar)\n", "obj.a.b\n", "(x\n", " + obj)\n", "print(GLOBAL_THING['k'])\n",
                "x.real.imag . real\n", "'str'.join(x)\n"]:
        lines = iter([src, "", ""]) if not src.startswith("foo") else iter(["foo(\n", "  bar)\n", ""])
        reader = lambda: next(lines, "")  # noqa: E731
        out.append(attempt(lambda: [(n, w, v if v is not t.__UNDEF__ else "UNDEF")
                                    for n, w, v in t.scanvars(reader, frame, locs)], Norm(mods)))
    return out


# ---------------------------------------------------------------------------
# Ours alone: where ours differs on purpose.

def self_checks(ours, ours_dir):
    checks = []

    def check(name, fn):
        checks.append((name, fn))

    check("no warning at import", lambda: ours.import_warnings == [])

    def shim():
        c = _load_file("cgi", os.path.join(ours_dir, "cgi.py"))
        if hasattr(c, "escape"):
            return False
        esc = c._install_escape_shim()
        return (c.escape is esc
                and c.escape('<a href="x">&\'</a>') == '&lt;a href="x"&gt;&amp;\'&lt;/a&gt;'
                and c.escape('<"\'>', True) == '&lt;&quot;\'&gt;'
                and c.escape('"', quote=1) == "&quot;"
                and str(inspect.signature(c.escape)) == "(s, quote=None)")
    check("escape shim (3.7 signature and output)", shim)

    class StdinLike(io.TextIOBase):
        """warmcgi's sys.stdin: a TextIOBase with .buffer, not a TextIOWrapper."""

        def __init__(self, data):
            self._b = io.BytesIO(data)

        @property
        def buffer(self):
            return self._b

        @property
        def encoding(self):
            return "utf-8"

        def read(self, n=-1):
            return self._b.read(n).decode()

        def readline(self, n=-1):
            return self._b.readline(n).decode()

    def parse_stdin_like():
        body = b"a=1&b=%C3%A9"
        saved = sys.stdin
        sys.stdin = StdinLike(body)
        try:
            got = ours.cgi.parse(environ=post("application/x-www-form-urlencoded", body))
        finally:
            sys.stdin = saved
        return got == {"a": ["1"], "b": ["\u00e9"]}
    check("parse() reads .buffer of a non-TextIOWrapper text stdin", parse_stdin_like)

    def fs_stdin_like():
        f = ours.cgi.FieldStorage(fp=StdinLike(MP_BASIC), environ=post(MPCT, MP_BASIC))
        ok = f.getvalue("upload") == b"hello\r\nworld\r\n" and f.getlist("tag") == ["one", "two"]
        close_all(f)
        return ok
    check("FieldStorage(fp=text stream with .buffer)", fs_stdin_like)
    return checks


# ---------------------------------------------------------------------------

def run_case(fn, mods):
    """A case's result; an exception escaping the case is a result too."""
    try:
        return fn(mods)
    except Exception as e:
        return ("case raised", exc_dump(e, Norm(mods)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference-dir", help="load the reference cgi.py and cgitb.py from here "
                    "instead of importing the interpreter's own")
    ap.add_argument("--ours-dir", default=OURS, help="load our cgi.py and cgitb.py from here "
                    "(default: pyhost/pylib)")
    ap.add_argument("-k", help="run only cases whose name contains this")
    ap.add_argument("-v", action="store_true", help="list every case")
    args = ap.parse_args(argv)

    # Hash randomisation affects keys() order the same way in both runs.
    ref = load_reference(args.reference_dir)
    ours = load_ours(args.ours_dir)
    register_fieldstorage_cases()
    register_parse_cases()
    register_parse_multipart_cases()
    register_small_cases()
    register_cgitb_cases()
    register_hook_cases()

    passed = failed = 0
    warnings.simplefilter("ignore", ResourceWarning)
    for name, fn in CASES:
        if args.k and args.k not in name:
            continue
        want = run_case(fn, ref)
        got = run_case(fn, ours)
        if want == got:
            passed += 1
            if args.v:
                print("ok   " + name)
            continue
        failed += 1
        print("FAIL " + name)
        a = pprint.pformat(want, width=100).splitlines()
        b = pprint.pformat(got, width=100).splitlines()
        for line in list(difflib.unified_diff(a, b, ref.label, "ours", lineterm="", n=2))[:80]:
            print("    " + line)
    for name, fn in self_checks(ours, args.ours_dir):
        if args.k and args.k not in name:
            continue
        try:
            ok = fn()
        except Exception as e:
            ok = False
            print("     %s: %s: %s" % (name, type(e).__name__, e))
        if ok:
            passed += 1
            if args.v:
                print("ok   (ours only) " + name)
        else:
            failed += 1
            print("FAIL (ours only) " + name)
    print("Python %s (%s), reference %s, ours %s: %d passed, %d failed"
          % (sys.version.split()[0], sys.executable, ref.label,
             os.path.dirname(ours.cgi.__file__), passed, failed))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
