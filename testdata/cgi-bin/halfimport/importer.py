#!/usr/bin/env python3
# Imports halfpkg, whose import fails half way: the error must be the
# same on every request, never "cannot import name".
print("Content-Type: text/plain")
print()
try:
    import halfpkg
    print("imported", halfpkg.VERSION)
except ImportError as e:
    print("ImportError:", e)
