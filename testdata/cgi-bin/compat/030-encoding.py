#!/usr/bin/python3
# COMPAT 30 and 60: the encodings and locale a CGI child of Apache gets.
import locale
import os
import sys

print("Content-Type: text/plain")
print()
print("utf8_mode:", sys.flags.utf8_mode)
for name in ("stdin", "stdout", "stderr"):
    s = getattr(sys, name)
    print("%s: %s %s isatty=%s" % (name, s.encoding, s.errors, s.isatty()))
print("filesystem:", sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
print("preferred:", locale.getpreferredencoding(False), locale.getencoding())
print("default:", sys.getdefaultencoding())
print("LC_CTYPE locale:", locale.setlocale(locale.LC_CTYPE))
for k in ("LANG", "LC_ALL", "LC_CTYPE", "LANGUAGE", "PYTHONIOENCODING", "PYTHONUTF8"):
    print("%s=%s" % (k, os.environ.get(k, "(unset)")))
print(b"caf\xe9 \xe2\x82\xac".decode("utf-8", "surrogateescape"))
