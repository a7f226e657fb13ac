"""Detailed tracebacks for CGI scripts, in HTML or plain text.

This is warmcgi's own implementation of the ``cgitb`` module that Python
3.13 removed (PEP 594). warmcgi provides it only to interpreters whose
standard library no longer has ``cgitb``; its output is the same as that of
the module of Python 3.11/3.12 (checked by ``testdata/difftest.py``). Unlike
3.11/3.12 it does not warn at import that it is slated for removal: on the
interpreters that get it, it has been removed and is provided on purpose.

Use it with:

    import cgitb; cgitb.enable()

enable() takes:

    display  -- true: show the traceback in the response
    logdir   -- a directory to save each traceback to, as a new file
    context  -- lines of source shown around each frame's current line
    format   -- 'html' (the default) or 'text'

To report an exception already caught, call cgitb.handler(), optionally
with a (type, value, traceback) tuple like sys.exc_info()'s.
"""
import inspect
import keyword
import linecache
import os
import pydoc
import sys
import tempfile
import time
import tokenize
import traceback
from html import escape as html_escape


def reset():
    """Markup that ends whatever the page had open, so the report shows.

    It starts as a comment that, seen as CGI output, is also a header block.
    """
    return ('<!--: spam\n'
            'Content-Type: text/html\n'
            '\n'
            '<body bgcolor="#f0f0f8"><font color="#f0f0f8" size="-5"> -->\n'
            '<body bgcolor="#f0f0f8"><font color="#f0f0f8" size="-5">'
            ' --> -->\n'
            '</font> </font> </font> </script> </object> </blockquote>'
            ' </pre>\n'
            '</table> </table> </table> </table> </table> </font> </font>'
            ' </font>')


__UNDEF__ = []      # marks a name whose value could not be found


def _wrap(before, after):
    def wrap(text):
        return before + text + after if text else ''
    return wrap


small = _wrap('<small>', '</small>')
small.__name__ = small.__qualname__ = 'small'
strong = _wrap('<strong>', '</strong>')
strong.__name__ = strong.__qualname__ = 'strong'
grey = _wrap('<font color="#909090">', '</font>')
grey.__name__ = grey.__qualname__ = 'grey'


def lookup(name, frame, locals):
    """Where name is bound for frame, and its value: (scope, value).

    scope is 'local', 'global', 'builtin', or None with __UNDEF__.
    """
    if name in locals:
        return 'local', locals[name]
    globs = frame.f_globals
    if name in globs:
        return 'global', globs[name]
    if '__builtins__' in globs:
        builtins = globs['__builtins__']
        if isinstance(builtins, dict):
            if name in builtins:
                return 'builtin', builtins[name]
        elif hasattr(builtins, name):
            return 'builtin', getattr(builtins, name)
    return None, __UNDEF__


def scanvars(reader, frame, locals):
    """The variables a logical source line uses: [(name, scope, value)].

    reader gives the line's physical lines one by one. Dotted names
    (a.b.c) are followed through attributes; their scope is the prefix.
    """
    found = []
    previous = None             # the token before this one
    owner = None                # what the next attribute is looked up on
    prefix = ''                 # dotted path leading to that attribute
    value = __UNDEF__
    for kind, token, _, _, _ in tokenize.generate_tokens(reader):
        if kind == tokenize.NEWLINE:
            break
        if kind == tokenize.NAME and token not in keyword.kwlist:
            if previous == '.':
                if owner is not __UNDEF__:
                    value = getattr(owner, token, __UNDEF__)
                    found.append((prefix + token, prefix, value))
            else:
                scope, value = lookup(token, frame, locals)
                found.append((token, scope, value))
        elif token == '.':
            prefix += previous + '.'
            owner = value
        else:
            owner, prefix = None, ''
        previous = token
    return found


def _header_facts(einfo):
    etype, evalue, etb = einfo
    if isinstance(etype, type):
        etype = etype.__name__
    version = 'Python ' + sys.version.split()[0] + ': ' + sys.executable
    return etype, evalue, etb, version, time.ctime(time.time())


def _frame_parts(etb, context, argrepr):
    """For each traceback frame: (file, lnum, func, call, lines, first line
    number, highlighted line numbers, variables).

    file is absolute, or '?' when unknown; call is "func(args)" text with
    argument values formatted by argrepr (not for module level).
    """
    for frame, file, lnum, func, lines, index in \
            inspect.getinnerframes(etb, context):
        file = os.path.abspath(file) if file else '?'
        args, varargs, varkw, locals = inspect.getargvalues(frame)
        if func != '?' and func != '<module>':
            arglist = inspect.formatargvalues(
                args, varargs, varkw, locals,
                formatvalue=lambda v: '=' + argrepr(v))
        else:
            arglist = ''

        shown = set()
        position = [lnum]

        def reader():
            shown.add(position[0])
            try:
                return linecache.getline(file, position[0])
            finally:
                position[0] += 1
        names = scanvars(reader, frame, locals)
        first = None if index is None else lnum - index
        yield file, func, arglist, lines, first, shown, names


def _unique(names):
    seen = set()
    for name, scope, value in names:
        if name not in seen:
            seen.add(name)
            yield name, scope, value


def html(einfo, context=5):
    """An HTML page describing the traceback einfo (a sys.exc_info())."""
    etype, evalue, etb, version, date = _header_facts(einfo)
    esc = pydoc.html.escape
    hrepr = pydoc.html.repr
    out = [
        '\n<body bgcolor="#f0f0f8">\n'
        '<table width="100%" cellspacing=0 cellpadding=2 border=0'
        ' summary="heading">\n'
        '<tr bgcolor="#6622aa">\n'
        '<td valign=bottom>&nbsp;<br>\n'
        '<font color="#ffffff" face="helvetica, arial">&nbsp;<br>\n'
        '<big><big><strong>' + html_escape(str(etype)) +
        '</strong></big></big></font></td>\n'
        '<td align=right valign=bottom>\n'
        '<font color="#ffffff" face="helvetica, arial">' + version +
        '<br>' + date + '</font></td>\n'
        '</tr></table>\n'
        '<p>A problem occurred in a Python script.  Here is the sequence of\n'
        'function calls leading up to the error, in the order they'
        ' occurred.</p>']

    for file, func, arglist, lines, first, shown, names in \
            _frame_parts(etb, context, hrepr):
        if file == '?':
            link = '?'
        else:
            link = '<a href="file://%s">%s</a>' % (file, esc(file))
        call = ''
        if func != '?':
            call = 'in ' + strong(esc(func)) + arglist
        rows = ['<tr><td bgcolor="#d8bbff"><big>&nbsp;</big>%s %s</td></tr>'
                % (link, call)]
        if first is not None:
            for number, text in enumerate(lines, first):
                digits = str(number)
                label = small('&nbsp;' * (5 - len(digits)) + digits) \
                    + '&nbsp;'
                code = pydoc.html.preformat(text)
                if number in shown:
                    rows.append('<tr><td bgcolor="#ffccee"><tt>=&gt;%s%s</tt>'
                                '</td></tr>' % (label, code))
                else:
                    rows.append('<tr><td>%s</td></tr>' % grey(
                        '<tt>&nbsp;&nbsp;%s%s</tt>' % (label, code)))

        dump = []
        for name, scope, value in _unique(names):
            if value is __UNDEF__:
                dump.append(name + ' <em>undefined</em>')
                continue
            if scope == 'local':
                label = strong(name)
            elif scope in ('global', 'builtin'):
                label = '<em>%s</em> %s' % (scope, strong(name))
            else:
                label = scope + strong(name.split('.')[-1])
            dump.append('%s&nbsp;= %s' % (label, hrepr(value)))
        rows.append('<tr><td>%s</td></tr>' % small(grey(', '.join(dump))))
        out.append('\n<table width="100%" cellspacing=0 cellpadding=0'
                   ' border=0>\n' + '\n'.join(rows) + '</table>')

    out.append('<p>%s: %s' % (strong(esc(str(etype))), esc(str(evalue))))
    pad = '<tt>' + small('&nbsp;' * 5) + '&nbsp;</tt>'
    for attr in dir(evalue):
        if not attr.startswith('_'):
            out.append('\n<br>%s%s&nbsp;=\n%s'
                       % (pad, attr, hrepr(getattr(evalue, attr))))

    plain = ''.join(traceback.format_exception(etype, evalue, etb))
    out.append(
        '\n\n\n<!-- The above is a description of an error in a Python'
        ' program, formatted\n'
        "     for a web browser because the 'cgitb' module was enabled."
        '  In case you\n'
        '     are not reading this in a web browser, here is the original'
        ' traceback:\n\n' + esc(plain) + '\n-->\n')
    return ''.join(out)


def text(einfo, context=5):
    """A plain text report of the traceback einfo (a sys.exc_info())."""
    etype, evalue, etb, version, date = _header_facts(einfo)
    trepr = pydoc.text.repr
    out = ['%s\n%s\n%s\n' % (etype, version, date),
           '\nA problem occurred in a Python script.  Here is the sequence'
           ' of\nfunction calls leading up to the error, in the order they'
           ' occurred.\n']

    for file, func, arglist, lines, first, shown, names in \
            _frame_parts(etb, context, trepr):
        call = 'in ' + func + arglist if func != '?' else ''
        rows = [' %s %s' % (file, call)]
        if first is not None:
            for number, line in enumerate(lines, first):
                rows.append('%5d %s' % (number, line.rstrip()))
        dump = []
        for name, scope, value in _unique(names):
            if value is __UNDEF__:
                dump.append(name + ' undefined')
                continue
            if scope == 'global':
                name = 'global ' + name
            elif scope != 'local':
                name = scope + name.split('.')[-1]
            dump.append('%s = %s' % (name, trepr(value)))
        rows.append('\n'.join(dump))
        out.append('\n' + '\n'.join(rows) + '\n')

    out.append('%s: %s' % (etype, evalue))
    for attr in dir(evalue):
        out.append('\n    %s = %s' % (attr, trepr(getattr(evalue, attr))))

    out.append('\n\nThe above is a description of an error in a Python'
               ' program.  Here is\nthe original traceback:\n\n'
               + ''.join(traceback.format_exception(etype, evalue, etb))
               + '\n')
    return ''.join(out)


class Hook:
    """An exception hook (for sys.excepthook) that reports tracebacks."""

    def __init__(self, display=1, logdir=None, context=5, file=None,
                 format="html"):
        self.display = display      # put the report in the response
        self.logdir = logdir        # save reports in files here, if set
        self.context = context      # source lines shown per frame
        self.file = file or sys.stdout  # where the report is written
        self.format = format        # 'html' or anything else for text

    def __call__(self, etype, evalue, etb):
        self.handle((etype, evalue, etb))

    def handle(self, info=None):
        """Report info, or the exception being handled."""
        info = info or sys.exc_info()
        as_html = self.format == "html"
        if as_html:
            self.file.write(reset())

        try:
            doc = (html if as_html else text)(info, self.context)
            plain = False
        except:  # noqa: E722 -- a failing report must not hide the error
            doc = ''.join(traceback.format_exception(*info))
            plain = True

        if not self.display:
            self.file.write('<p>A problem occurred in a Python script.\n')
        elif plain:
            # What is shown escaped is also what a logdir file gets.
            doc = pydoc.html.escape(doc)
            self.file.write('<pre>' + doc + '</pre>\n')
        else:
            self.file.write(doc + '\n')

        if self.logdir is not None:
            fd, path = tempfile.mkstemp(suffix='.html' if as_html else '.txt',
                                        dir=self.logdir)
            try:
                with os.fdopen(fd, 'w') as saved:
                    saved.write(doc)
                note = '%s contains the description of this error.' % path
            except:  # noqa: E722
                note = 'Tried to save traceback to %s, but failed.' % path
            self.file.write('<p>%s</p>\n' % note if as_html else note + '\n')

        try:
            self.file.flush()
        except:  # noqa: E722
            pass


handler = Hook().handle


def enable(display=1, logdir=None, context=5, format="html"):
    """Make sys.excepthook report uncaught exceptions with a Hook.

    display=0 leaves the report out of the response; logdir saves each
    report in a new file in that directory.
    """
    sys.excepthook = Hook(display=display, logdir=logdir,
                          context=context, format=format)
