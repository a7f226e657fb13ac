#!/usr/bin/env python3
# Whether swiglike's init has run with this interpreter active (it sets
# sys.swiglike_init_ran), without importing it: run in main mode after a
# sub-interpreter's refused import, it shows where CPython ran the init.
import sys

print("Content-Type: text/plain")
print()
print("init ran here:", getattr(sys, "swiglike_init_ran", False))
