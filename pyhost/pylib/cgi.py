"""Support module for CGI (Common Gateway Interface) scripts.

This is warmcgi's own implementation of the ``cgi`` module that Python 3.13
removed (PEP 594). warmcgi provides it only to interpreters whose standard
library no longer has ``cgi``; it is written to behave exactly like the
module of Python 3.11/3.12, which ``testdata/difftest.py`` checks request by
request against the real thing.

Things a script can rely on, as with the original:

* ``FieldStorage`` parses the query string (GET/HEAD), an
  ``application/x-www-form-urlencoded`` body (plus the query string of a
  POST), and ``multipart/form-data`` including nested multipart parts and
  file uploads. Text kept in memory moves to ``tempfile.TemporaryFile``
  once it passes 1000 bytes.
* The default ``environ`` argument of ``parse``, ``FieldStorage``, ``test``
  and ``print_environ`` is the ``os.environ`` object bound when this module
  is imported; ``fp`` defaults to ``sys.stdin.buffer`` (``sys.stdin`` for
  ``parse``) looked up at call time.
* ``maxlen`` (0 = unlimited) caps a body's declared length: more raises
  ``ValueError('Maximum content length exceeded')``.
* Bug-for-bug: ``cgi.parse()`` of a multipart POST fails as in 3.12 (it
  hands ``parse_multipart`` a str boundary), a top-level non-form POST body
  with a Content-Length and no filename fails writing bytes to a text file,
  and ``FieldStorage.__exit__`` fails when there is no ``file``.

Deliberate differences from 3.11/3.12:

* No ``DeprecationWarning`` is issued at import. 3.11/3.12 warn that the
  module "is deprecated and slated for removal in Python 3.13"; on the
  interpreters that get this module that removal has already happened and
  the module is provided on purpose, so the warning would be false and would
  only clutter every request's error log. (``cgi.log()`` still warns that it
  is deprecated, as the original does, since that is advice about the call.)
* ``parse()`` and ``FieldStorage`` read bytes from the ``.buffer`` of any
  text stream (``io.TextIOBase`` with a ``buffer``), not only of an
  ``io.TextIOWrapper``. Under CGI ``sys.stdin`` is a TextIOWrapper; under
  warmcgi it is a stand-in with the same interface, and the original's
  isinstance test would make ``cgi.parse()`` fail on it.
* ``cgi.escape`` (removed in 3.8) does not exist unless
  ``_install_escape_shim()`` is called, which defines it with the 3.7
  signature ``escape(s, quote=None)``.
"""

__version__ = "2.6"

import html
import locale
import os
import re as _re
import sys
import tempfile
import urllib.parse
import warnings
from collections.abc import Mapping
from email.message import Message
from email.parser import FeedParser
from io import BytesIO, StringIO, TextIOWrapper
from io import TextIOBase as _TextIOBase

__all__ = ["MiniFieldStorage", "FieldStorage", "parse", "parse_multipart",
           "parse_header", "test", "print_exception", "print_environ",
           "print_form", "print_directory", "print_arguments",
           "print_environ_usage"]


# ---------------------------------------------------------------------------
# Logging. `log` starts as initlog, which opens `logfile` (unless `logfp` is
# already set) and then rebinds `log` to dolog, or to nolog when there is
# nowhere to write.

logfile = ""    # name of a file to append log lines to, when not empty
logfp = None    # an open file to write log lines to, when not None


def initlog(*allargs):
    """Write a log line, opening the log file first if there is one.

    Call log(), not this: `log` is initlog until the first call, then dolog
    (logging to `logfp`) or nolog (no log configured or it cannot be
    opened). Arguments are a %-format string and its values.
    """
    global log, logfp
    warnings.warn("cgi.log() is deprecated as of 3.10. Use logging instead",
                  DeprecationWarning, stacklevel=2)
    if logfile and not logfp:
        try:
            logfp = open(logfile, "a", encoding="locale")
        except OSError:
            pass  # nowhere safe to report it: logging is just off
    log = dolog if logfp else nolog
    log(*allargs)


def dolog(fmt, *args):
    """Append one formatted line to the log file."""
    logfp.write(fmt % args + "\n")


def nolog(*allargs):
    """Logging is off: do nothing."""


def closelog():
    """Close the log file and start over."""
    global log, logfile, logfp
    logfile = ''
    if logfp:
        logfp.close()
        logfp = None
    log = initlog


log = initlog


# ---------------------------------------------------------------------------
# Parsing functions

maxlen = 0      # largest accepted Content-Length; 0 means no limit


def _bytes_source(fp):
    """The byte stream under a text stream; any other stream as it is."""
    if isinstance(fp, TextIOWrapper):
        return fp.buffer
    if isinstance(fp, _TextIOBase):
        inner = getattr(fp, 'buffer', None)
        if inner is not None:
            return inner
    return fp


def parse(fp=None, environ=os.environ, keep_blank_values=0,
          strict_parsing=0, separator='&'):
    """Parse the request's form data into {name: [value, ...]}.

    fp is where a POST body is read from (default sys.stdin); environ the
    CGI environment (default os.environ). keep_blank_values keeps fields
    with empty values; strict_parsing raises ValueError on malformed
    pairs; separator splits pairs. As in the original, environ is updated:
    REQUEST_METHOD defaults to GET and QUERY_STRING is set to what was
    parsed (for a POST, the body followed by the query string).
    """
    if fp is None:
        fp = sys.stdin
    # Names and values are text; decode with the stream's own encoding.
    encoding = fp.encoding if hasattr(fp, 'encoding') else 'latin-1'
    fp = _bytes_source(fp)

    if 'REQUEST_METHOD' not in environ:
        environ['REQUEST_METHOD'] = 'GET'
    if environ['REQUEST_METHOD'] != 'POST':
        if 'QUERY_STRING' in environ:
            qs = environ['QUERY_STRING']
        else:
            qs = sys.argv[1] if sys.argv[1:] else ""
            environ['QUERY_STRING'] = qs
    else:
        ctype, pdict = parse_header(environ['CONTENT_TYPE'])
        if ctype == 'multipart/form-data':
            return parse_multipart(fp, pdict, separator=separator)
        if ctype == 'application/x-www-form-urlencoded':
            size = int(environ['CONTENT_LENGTH'])
            if maxlen and size > maxlen:
                raise ValueError('Maximum content length exceeded')
            qs = fp.read(size).decode(encoding)
        else:
            qs = ''     # a body we do not understand contributes nothing
        if 'QUERY_STRING' in environ:
            tail = environ['QUERY_STRING']
        elif sys.argv[1:]:
            tail = sys.argv[1]
        else:
            tail = None
        if tail is not None:
            qs = qs + '&' + tail if qs else tail
        environ['QUERY_STRING'] = qs
    return urllib.parse.parse_qs(qs, keep_blank_values, strict_parsing,
                                 encoding=encoding, separator=separator)


def parse_multipart(fp, pdict, encoding="utf-8", errors="replace",
                    separator='&'):
    """Parse a multipart/form-data body read from fp.

    pdict holds the Content-Type parameters: 'boundary' as bytes and,
    optionally, 'CONTENT-LENGTH'. encoding and errors decode text fields.
    Returns {name: [value, ...]} like parse_qs(); file fields give bytes.
    """
    # Boundaries are 7-bit ASCII (RFC 2046 5.1).
    boundary = pdict['boundary'].decode('ascii')
    headers = Message()
    headers.set_type("multipart/form-data; boundary={}".format(boundary))
    if 'CONTENT-LENGTH' in pdict:
        headers['Content-Length'] = pdict['CONTENT-LENGTH']
    form = FieldStorage(fp, headers=headers, encoding=encoding, errors=errors,
                        environ={'REQUEST_METHOD': 'POST'},
                        separator=separator)
    return {name: form.getlist(name) for name in form}


def _header_params(text):
    """Yield the ';'-separated pieces of text (which starts with ';').

    A ';' inside a double-quoted string does not separate pieces.
    """
    while text[:1] == ';':
        text = text[1:]
        cut = text.find(';')
        # An odd count of unescaped quotes before the ';': it is quoted.
        while cut > 0 and (text.count('"', 0, cut)
                           - text.count('\\"', 0, cut)) % 2:
            cut = text.find(';', cut + 1)
        if cut < 0:
            cut = len(text)
        yield text[:cut].strip()
        text = text[cut:]


def parse_header(line):
    """Split a Content-Type-like header into (value, {param: value})."""
    pieces = _header_params(';' + line)
    main = next(pieces)
    params = {}
    for piece in pieces:
        name, eq, value = piece.partition('=')
        if not eq:
            continue
        name = name.strip().lower()
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1].replace('\\\\', '\\').replace('\\"', '"')
        params[name] = value
    return main, params


# ---------------------------------------------------------------------------
# Field storage

class MiniFieldStorage:
    """A plain name=value form field (no file, no headers)."""

    # What a FieldStorage has and a simple field lacks.
    filename = None
    list = None
    type = None
    file = None
    type_options = {}
    disposition = None
    disposition_options = {}
    headers = {}

    def __init__(self, name, value):
        self.name = name
        self.value = value

    def __repr__(self):
        return "MiniFieldStorage(%r, %r)" % (self.name, self.value)


class FieldStorage:
    """A form, or one part of a multipart form.

    The whole form behaves like a read-only mapping from field names to a
    MiniFieldStorage or FieldStorage, or a list of them for a name given
    more than once (None can be a name). Each field has:

    name, filename   -- from Content-Disposition (filename is the client's
                        name for an upload), or None
    value            -- a str, bytes for uploads (read from `file` on each
                        access), or the list of sub-fields of a multipart
    file             -- the stored data to read, or None
    type, type_options              -- the Content-Type and its parameters
    disposition, disposition_options -- the Content-Disposition and its
    headers          -- all headers (a dict or an email.message.Message)

    Subclasses may override make_file() to choose where data is stored.
    """

    FieldStorageClass = None    # class for parts; None means type(self)
    bufsize = 8 * 1024          # read size when copying a sized body

    def __init__(self, fp=None, headers=None, outerboundary=b'',
                 environ=os.environ, keep_blank_values=0, strict_parsing=0,
                 limit=None, encoding='utf-8', errors='replace',
                 max_num_fields=None, separator='&'):
        """Read the form (or, inside a multipart, one part) from fp.

        fp               -- bytes source (or a text stream with .buffer);
                            default sys.stdin.buffer; unused for GET/HEAD
        headers          -- the part's headers; default derived from environ
        outerboundary    -- the enclosing multipart's boundary (internal)
        environ          -- CGI environment; default os.environ
        keep_blank_values, strict_parsing -- as for urllib.parse.parse_qsl
        limit            -- bytes a part may read (internal)
        encoding, errors -- how to decode text; match the form page's charset
        max_num_fields   -- more fields than this raise ValueError
        separator        -- query string pair separator
        """
        self.keep_blank_values = keep_blank_values
        self.strict_parsing = strict_parsing
        self.max_num_fields = max_num_fields
        self.separator = separator
        method = environ['REQUEST_METHOD'].upper() \
            if 'REQUEST_METHOD' in environ else 'GET'
        self.qs_on_post = None

        if method in ('GET', 'HEAD'):
            # The query string is the form; read it as if it were a body.
            if 'QUERY_STRING' in environ:
                qs = environ['QUERY_STRING']
            else:
                qs = sys.argv[1] if sys.argv[1:] else ""
            fp = BytesIO(qs.encode(locale.getpreferredencoding(),
                                   'surrogateescape'))
            if headers is None:
                headers = {'content-type':
                           "application/x-www-form-urlencoded"}
        if headers is None:
            headers = {}
            if method == 'POST':
                headers['content-type'] = "application/x-www-form-urlencoded"
            if 'CONTENT_TYPE' in environ:
                headers['content-type'] = environ['CONTENT_TYPE']
            if 'QUERY_STRING' in environ:
                self.qs_on_post = environ['QUERY_STRING']
            if 'CONTENT_LENGTH' in environ:
                headers['content-length'] = environ['CONTENT_LENGTH']
        elif not isinstance(headers, (Mapping, Message)):
            raise TypeError("headers must be mapping or an instance of "
                            "email.message.Message")
        self.headers = headers

        if fp is None:
            self.fp = sys.stdin.buffer
        else:
            source = _bytes_source(fp)
            if source is fp and not (hasattr(fp, 'read')
                                     and hasattr(fp, 'readline')):
                raise TypeError("fp must be file pointer")
            self.fp = source

        self.encoding = encoding
        self.errors = errors

        if not isinstance(outerboundary, bytes):
            raise TypeError('outerboundary must be bytes, not %s'
                            % type(outerboundary).__name__)
        self.outerboundary = outerboundary
        self.bytes_read = 0
        self.limit = limit

        if 'content-disposition' in self.headers:
            disp, dparams = parse_header(self.headers['content-disposition'])
        else:
            disp, dparams = "", {}
        self.disposition = disp
        self.disposition_options = dparams
        self.name = dparams.get('name')
        self.filename = dparams.get('filename')
        self._binary_file = self.filename is not None

        # Without a Content-Type a part is text/plain, and so is a GET; a
        # top-level POST is taken to be a urlencoded form.
        if 'content-type' in self.headers:
            ctype, tparams = parse_header(self.headers['content-type'])
        elif self.outerboundary or method != 'POST':
            ctype, tparams = "text/plain", {}
        else:
            ctype, tparams = 'application/x-www-form-urlencoded', {}
        self.type = ctype
        self.type_options = tparams
        if 'boundary' in tparams:
            self.innerboundary = tparams['boundary'].encode(self.encoding,
                                                            self.errors)
        else:
            self.innerboundary = b""

        length = -1
        if 'content-length' in self.headers:
            try:
                length = int(self.headers['content-length'])
            except ValueError:
                pass
            if maxlen and length > maxlen:
                raise ValueError('Maximum content length exceeded')
        self.length = length
        if self.limit is None and length >= 0:
            self.limit = length

        self.list = None
        self.file = None
        self.done = 0   # 1: saw the closing boundary; -1: hit EOF
        if ctype == 'application/x-www-form-urlencoded':
            self.read_urlencoded()
        elif ctype.startswith('multipart/'):
            self.read_multi(environ, keep_blank_values, strict_parsing)
        else:
            self.read_single()

    def __del__(self):
        try:
            self.file.close()
        except AttributeError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.file.close()

    def __repr__(self):
        return "FieldStorage(%r, %r, %r)" % (
            self.name, self.filename, self.value)

    def __getattr__(self, name):
        # `value` is computed on each access, never stored.
        if name != 'value':
            raise AttributeError(name)
        if self.file:
            self.file.seek(0)
            data = self.file.read()
            self.file.seek(0)
            return data
        return self.list  # None for a part that is neither file nor form

    # Mapping-like access to the fields

    def _matching(self, key):
        if self.list is None:
            raise TypeError("not indexable")
        return [field for field in self.list if field.name == key]

    def __getitem__(self, key):
        found = self._matching(key)
        if not found:
            raise KeyError(key)
        return found[0] if len(found) == 1 else found

    def getvalue(self, key, default=None):
        """The field's value, a list of values if repeated, else default."""
        if key not in self:
            return default
        got = self[key]
        if isinstance(got, list):
            return [field.value for field in got]
        return got.value

    def getfirst(self, key, default=None):
        """The first value given for key, else default."""
        if key not in self:
            return default
        got = self[key]
        return got[0].value if isinstance(got, list) else got.value

    def getlist(self, key):
        """All values given for key, in order (maybe none)."""
        if key not in self:
            return []
        got = self[key]
        return [field.value for field in got] if isinstance(got, list) \
            else [got.value]

    def keys(self):
        """The distinct field names, in no particular order."""
        if self.list is None:
            raise TypeError("not indexable")
        return list(set(field.name for field in self.list))

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, key):
        if self.list is None:
            raise TypeError("not indexable")
        return any(field.name == key for field in self.list)

    def __len__(self):
        return len(self.keys())

    def __bool__(self):
        if self.list is None:
            raise TypeError("Cannot be converted to bool.")
        return bool(self.list)

    # Readers

    def _bytes_or_fail(self, data):
        if not isinstance(data, bytes):
            raise ValueError("%s should return bytes, got %s"
                             % (self.fp, type(data).__name__))
        return data

    def _query_fields(self, qs):
        pairs = urllib.parse.parse_qsl(
            qs, self.keep_blank_values, self.strict_parsing,
            encoding=self.encoding, errors=self.errors,
            max_num_fields=self.max_num_fields, separator=self.separator)
        return [MiniFieldStorage(name, value) for name, value in pairs]

    def read_urlencoded(self):
        """Internal: read a urlencoded form (plus a POST's query string)."""
        body = self._bytes_or_fail(self.fp.read(self.length))
        qs = body.decode(self.encoding, self.errors)
        if self.qs_on_post:
            qs += '&' + self.qs_on_post
        self.list = self._query_fields(qs)
        self.skip_lines()

    def read_multi(self, environ, keep_blank_values, strict_parsing):
        """Internal: read a multipart body, one FieldStorage per part."""
        boundary = self.innerboundary
        if not valid_boundary(boundary):
            raise ValueError('Invalid boundary in multipart form: %r'
                             % (boundary,))
        self.list = []
        if self.qs_on_post:
            self.list.extend(self._query_fields(self.qs_on_post))
        part_class = self.FieldStorageClass or self.__class__

        # Skip the preamble, up to and including the first boundary line.
        opener = b"--" + boundary
        line = self._bytes_or_fail(self.fp.readline())
        self.bytes_read += len(line)
        while line and line.strip() != opener:
            line = self.fp.readline()
            self.bytes_read += len(line)

        # What is left of max_num_fields for the parts.
        room = self.max_num_fields
        if room is not None:
            room -= len(self.list)

        while True:
            head = b""
            while True:     # header lines, up to a blank line or EOF
                line = self.fp.readline()
                head += line
                if not line.strip():
                    break
            if not head:
                break
            self.bytes_read += len(head)
            feed = FeedParser()
            feed.feed(head.decode(self.encoding, self.errors))
            part_headers = feed.close()
            # Some clients give parts a Content-Length; it is not trusted.
            if 'content-length' in part_headers:
                del part_headers['content-length']

            part_limit = None if self.limit is None \
                else self.limit - self.bytes_read
            part = part_class(self.fp, part_headers, boundary, environ,
                              keep_blank_values, strict_parsing, part_limit,
                              self.encoding, self.errors, room,
                              self.separator)
            if room is not None:
                room -= 1 + (len(part.list) if part.list else 0)
                if room < 0:
                    raise ValueError('Max number of fields exceeded')
            self.bytes_read += part.bytes_read
            self.list.append(part)
            if part.done or self.bytes_read >= self.length > 0:
                break
        self.skip_lines()

    def read_single(self):
        """Internal: read a part that is a single value or file."""
        if self.length >= 0:
            self.read_binary()
            self.skip_lines()
        else:
            self.read_lines()
        self.file.seek(0)

    def read_binary(self):
        """Internal: copy exactly `length` bytes into a new file."""
        self.file = self.make_file()
        left = self.length
        while left > 0:
            chunk = self._bytes_or_fail(
                self.fp.read(min(left, self.bufsize)))
            self.bytes_read += len(chunk)
            if not chunk:
                self.done = -1
                break
            self.file.write(chunk)
            left -= len(chunk)

    def read_lines(self):
        """Internal: read up to the outer boundary, or to EOF without one."""
        # Data starts in memory and moves to make_file() past 1000 bytes.
        self._in_memory = BytesIO() if self._binary_file else StringIO()
        self.file = self._in_memory
        if self.outerboundary:
            self.read_lines_to_outerboundary()
        else:
            self.read_lines_to_eof()

    def _store(self, data):
        """Append bytes to the stored value, spilling to a file if big."""
        small = self._in_memory
        if small is not None and small.tell() + len(data) > 1000:
            self.file = self.make_file()
            self.file.write(small.getvalue())
            self._in_memory = None
        if self._binary_file:
            self.file.write(data)
        else:
            self.file.write(data.decode(self.encoding, self.errors))

    def read_lines_to_eof(self):
        """Internal: store every line up to EOF."""
        while True:
            line = self.fp.readline(1 << 16)
            self.bytes_read += len(line)
            if not line:
                self.done = -1
                return
            self._store(line)

    def read_lines_to_outerboundary(self):
        """Internal: store lines up to the next boundary of the outer part.

        The line break just before a boundary belongs to the boundary, so
        each line's ending is held back until the next line shows it is
        data. A boundary only counts at the start of a line.
        """
        boundary = b"--" + self.outerboundary
        closing = boundary + b"--"
        held = b""          # line ending not yet known to be data
        at_line_start = True
        taken = 0
        while True:
            if self.limit is not None and 0 <= self.limit <= taken:
                return
            line = self.fp.readline(1 << 16)
            self.bytes_read += len(line)
            taken += len(line)
            if not line:
                self.done = -1
                return
            if held == b"\r":
                # A CR that may have been half of a CRLF split across reads.
                line = held + line
                held = b""
            if at_line_start and line.startswith(b"--"):
                bare = line.rstrip()
                if bare == boundary:
                    return
                if bare == closing:
                    self.done = 1
                    return
            before = held
            for ending, complete in ((b"\r\n", True), (b"\n", True),
                                     (b"\r", False)):
                if line.endswith(ending):
                    held = ending
                    line = line[:-len(ending)]
                    at_line_start = complete
                    break
            else:
                held = b""
                at_line_start = False
            self._store(before + line)

    def skip_lines(self):
        """Internal: discard input up to the next outer boundary."""
        if not self.outerboundary or self.done:
            return
        boundary = b"--" + self.outerboundary
        closing = boundary + b"--"
        at_line_start = True
        while True:
            line = self.fp.readline(1 << 16)
            self.bytes_read += len(line)
            if not line:
                self.done = -1
                return
            if at_line_start and line.endswith(b"--"):
                bare = line.strip()
                if bare == boundary:
                    return
                if bare == closing:
                    self.done = 1
                    return
            at_line_start = line.endswith(b'\n')

    def make_file(self):
        """Overridable: a new readable and writable file for the value.

        Data is written, the file is rewound, then read. Uploads (parts
        with a filename) get a binary file, other fields a text file in
        `encoding`. The default is an anonymous temporary file, deleted
        when closed; override to keep uploads elsewhere.
        """
        if self._binary_file:
            return tempfile.TemporaryFile("wb+")
        return tempfile.TemporaryFile("w+", encoding=self.encoding,
                                      newline='\n')


# ---------------------------------------------------------------------------
# Test and debugging helpers

def test(environ=os.environ):
    """A CGI script in itself: print the request and a sample traceback."""
    print("Content-type: text/html")
    print()
    sys.stderr = sys.stdout
    try:
        form = FieldStorage()
        print_directory()
        print_arguments()
        print_form(form)
        print_environ(environ)
        print_environ_usage()

        # f and g: their names show in the sample traceback.
        def f():
            exec("testing print_exception() -- <I>italics?</I>")

        def g(f=f):
            f()
        print("<H3>What follows is a test, not an actual exception:</H3>")
        g()
    except:  # noqa: E722 -- show whatever happened
        print_exception()

    print("<H1>Second try with a small maxlen...</H1>")
    global maxlen
    maxlen = 50
    try:
        form = FieldStorage()
        print_directory()
        print_arguments()
        print_form(form)
        print_environ(environ)
    except:  # noqa: E722
        print_exception()


def print_exception(type=None, value=None, tb=None, limit=None):
    """Print the current (or given) exception as HTML."""
    import traceback
    if type is None:
        type, value, tb = sys.exc_info()
    print()
    print("<H3>Traceback (most recent call last):</H3>")
    lines = (traceback.format_tb(tb, limit)
             + traceback.format_exception_only(type, value))
    print("<PRE>%s<B>%s</B></PRE>" % (html.escape("".join(lines[:-1])),
                                      html.escape(lines[-1])))
    del tb


def print_environ(environ=os.environ):
    """Print the environment as an HTML definition list."""
    print()
    print("<H3>Shell Environment:</H3>")
    print("<DL>")
    for key in sorted(environ.keys()):
        print("<DT>", html.escape(key), "<DD>", html.escape(environ[key]))
    print("</DL>")
    print()


def print_form(form):
    """Print a form's fields as HTML."""
    names = sorted(form.keys())
    print()
    print("<H3>Form Contents:</H3>")
    if not names:
        print("<P>No form fields.")
    print("<DL>")
    for name in names:
        print("<DT>" + html.escape(name) + ":", end=' ')
        field = form[name]
        print("<i>" + html.escape(repr(type(field))) + "</i>")
        print("<DD>" + html.escape(repr(field)))
    print("</DL>")
    print()


def print_directory():
    """Print the working directory as HTML."""
    print()
    print("<H3>Current Working Directory:</H3>")
    try:
        cwd = os.getcwd()
    except OSError as err:
        print("OSError:", html.escape(str(err)))
    else:
        print(html.escape(cwd))
    print()


def print_arguments():
    """Print sys.argv as HTML."""
    print()
    print("<H3>Command Line Arguments:</H3>")
    print()
    print(sys.argv)
    print()


_CGI_VARIABLES = """AUTH_TYPE CONTENT_LENGTH CONTENT_TYPE DATE_GMT DATE_LOCAL
DOCUMENT_NAME DOCUMENT_ROOT DOCUMENT_URI GATEWAY_INTERFACE LAST_MODIFIED PATH
PATH_INFO PATH_TRANSLATED QUERY_STRING REMOTE_ADDR REMOTE_HOST REMOTE_IDENT
REMOTE_USER REQUEST_METHOD SCRIPT_NAME SERVER_NAME SERVER_PORT
SERVER_PROTOCOL SERVER_ROOT SERVER_SOFTWARE""".split()

_HTTP_VARIABLES = """HTTP_ACCEPT HTTP_CONNECTION HTTP_HOST HTTP_PRAGMA
HTTP_REFERER HTTP_USER_AGENT""".split()


def print_environ_usage():
    """Print, as HTML, which environment variables a CGI script may get."""
    def items(names):
        return "".join("<LI>%s\n" % name for name in names)
    print("\n<H3>These environment variables could have been set:</H3>\n"
          "<UL>\n" + items(_CGI_VARIABLES) + "</UL>\n"
          "In addition, HTTP headers sent by the server may be passed in the\n"
          "environment as well.  Here are some common variable names:\n"
          "<UL>\n" + items(_HTTP_VARIABLES) + "</UL>\n")


# ---------------------------------------------------------------------------
# Utilities

def valid_boundary(s):
    """A match object if s is a usable multipart boundary, else None.

    1 to 201 printable ASCII characters, not ending in a space (a final
    newline is tolerated, as `$` allows).
    """
    if isinstance(s, bytes):
        return _re.match(b"^[ -~]{0,200}[!-~]$", s)
    return _re.match("^[ -~]{0,200}[!-~]$", s)


def _install_escape_shim():
    """Define cgi.escape as it was until Python 3.7 (removed in 3.8).

    escape(s, quote=None): replace &, < and > by HTML entities, and also
    '"' when quote is true (unlike html.escape, never "'"). Off by default;
    warmcgi calls this when its compatibility flag asks for it.
    """
    def escape(s, quote=None):
        """Replace &, < and > in s by HTML-safe sequences; '"' too if quote."""
        out = html.escape(s, quote=False)
        if quote:
            out = out.replace('"', "&quot;")
        return out
    escape.__module__ = __name__
    globals()['escape'] = escape
    return escape


if __name__ == '__main__':
    test()
