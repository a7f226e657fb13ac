#!/usr/bin/python3
# COMPAT 58: the locale as a CGI child's C library and Python see it: the C
# locale coerced to C.UTF-8 (PEP 538) and exported as LC_CTYPE, UTF-8 mode.
import locale
import os
import sys

print("Content-Type: text/plain")
print()
print("LC_CTYPE:", locale.setlocale(locale.LC_CTYPE))
print("getlocale:", locale.getlocale())
print("CODESET:", locale.nl_langinfo(locale.CODESET))
print("preferred encoding:", locale.getpreferredencoding(False))
print("env LC_CTYPE:", os.environ.get("LC_CTYPE"), "LANG:", os.environ.get("LANG"), "LC_ALL:", os.environ.get("LC_ALL"))
print("utf8 mode:", sys.flags.utf8_mode, "fs:", sys.getfilesystemencoding(), "stdout:", sys.stdout.encoding)
