#!/usr/bin/python3
# Imports sre_parse itself, whose import warns (DeprecationWarning, at the
# importing line), then a library that imports it too: under CGI the
# warning names this script's line and shows (in __main__), the library's
# import warns no more. Fork mode, once it has learned both (one
# sub-template with warnfirst.py and warnlib.py), must say the same.
import os
import sre_parse  # noqa: F401
import warmcgi_test_imports_sre_parse  # noqa: F401

print("Content-Type: text/plain")
print()
print("parent:", os.getppid())
