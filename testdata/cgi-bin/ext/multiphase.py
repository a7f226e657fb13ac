#!/usr/bin/env python3
# Imports the multi-phase test extension (testdata/ext/multiphase.c, built by
# the tests into $SWIGLIKE_DIR): safe in sub-interpreters, so it stays there.
import os
import sys

sys.path.insert(0, os.environ["SWIGLIKE_DIR"])
import multiphase

print("Content-Type: text/plain")
print()
print("multiphase", multiphase.answer())
