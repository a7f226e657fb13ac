#!/usr/bin/python3 -S
# COMPAT 8: -S means no site module (and no dist-packages on sys.path).
import sys

print("Content-Type: text/plain")
print()
print("no_site:", sys.flags.no_site)
print("site imported:", "site" in sys.modules)
print("dist-packages on sys.path:", any(p.endswith("dist-packages") for p in sys.path))
