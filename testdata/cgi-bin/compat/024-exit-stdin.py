#!/usr/bin/python3
# COMPAT 24: exit() closes sys.stdin (site's Quitter); the next request's
# stdin must be open again.
import sys

first = sys.stdin.read(1)
try:
    exit(0)
except SystemExit:
    pass
print("Content-Type: text/plain")
print()
print("first:", first)
print("stdin closed:", sys.stdin.closed)
try:
    sys.stdin.read()
except ValueError as e:
    print("read after exit():", e)
