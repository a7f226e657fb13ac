#!/usr/bin/python3
# COMPAT 94: modules and names removed from newer Pythons, as this one has them.
import cgi
import collections
import importlib
import warnings

warnings.simplefilter("ignore")
print("Content-Type: text/plain")
print()
for name in ("imp", "distutils", "asyncore", "asynchat", "smtpd"):
    try:
        importlib.import_module(name)
        print(name, "imports")
    except ImportError as e:
        print(name, type(e).__name__)
print("collections.Mapping:", hasattr(collections, "Mapping"))
print("cgi.parse_qs:", hasattr(cgi, "parse_qs"))
