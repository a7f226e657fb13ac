#!/usr/bin/python3
# COMPAT 45: a bare except swallows SystemExit, as under CGI.
import sys

print("Content-Type: text/plain")
print()
try:
    sys.exit(2)
except:  # noqa: E722 (the point of the case)
    print("swallowed", sys.exc_info()[0].__name__)
print("still running")
