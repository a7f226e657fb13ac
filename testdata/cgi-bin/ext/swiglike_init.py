#!/usr/bin/env python3
# Whether importing swiglike (testdata/ext/swiglike.c) ran its init in this
# interpreter, when the import is refused: its init sets sys.swiglike_init_ran.
import os
import sys

sys.path.insert(0, os.environ["SWIGLIKE_DIR"])
print("Content-Type: text/plain")
print()
try:
    import swiglike  # noqa: F401
    print("imported")
except ImportError as e:
    print("ImportError:", e)
print("init ran here:", getattr(sys, "swiglike_init_ran", False))
