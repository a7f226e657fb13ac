#!/usr/bin/python3
# Shows every warning, then imports a library whose import imports
# sre_parse (which warns, at the library's importing line), then sre_parse
# itself, loaded by then: under CGI one warning, at the library's line.
import os
import warnings

warnings.simplefilter("always")
import warmcgi_test_imports_sre_parse  # noqa: E402,F401
import sre_parse  # noqa: E402,F401

print("Content-Type: text/plain")
print()
print("parent:", os.getppid())
