#!/usr/bin/python3
# COMPAT 58: umask, locale and cwd a script changes are its own. Prints
# what it finds, then changes it.
import locale
import os

print("Content-Type: text/plain")
print()
old = os.umask(0o077)
print("umask: %04o" % old)
print("LC_NUMERIC:", locale.setlocale(locale.LC_NUMERIC))
print("LC_COLLATE:", locale.setlocale(locale.LC_COLLATE))
print("cwd is the script dir:", os.getcwd() == os.path.dirname(os.path.abspath(__file__)))
locale.setlocale(locale.LC_NUMERIC, "C.UTF-8")
locale.setlocale(locale.LC_COLLATE, "C.UTF-8")
os.chdir("/")
