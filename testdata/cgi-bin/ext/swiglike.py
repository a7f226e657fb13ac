#!/usr/bin/env python3
# Imports the test extension swiglike (testdata/ext/swiglike.c, built by the
# tests into $SWIGLIKE_DIR) and uses what its init cached: under CGI, or in
# any mode that gives it one interpreter per process, it answers "ok".
import os
import sys

sys.path.insert(0, os.environ["SWIGLIKE_DIR"])
import swiglike

results = [swiglike.work() for _ in range(50)]
print("Content-Type: text/plain")
print()
if all(same for _, same in results):
    print("swiglike ok")
else:
    print("swiglike CORRUPT: its init ran in another interpreter, whose sys.modules it uses")
