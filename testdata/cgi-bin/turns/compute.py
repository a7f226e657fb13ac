#!/usr/bin/python3
# Computes in pure Python without ever blocking, so its thread keeps the
# GIL it may share with other interpreters, until the test sets the first
# byte of the file QUERY_STRING names (or a minute passes). It sets the
# second byte when it starts.
import mmap
import os
import time

with open(os.environ["QUERY_STRING"], "r+b") as f:
    m = mmap.mmap(f.fileno(), 2)
m[1] = 1
deadline = time.monotonic() + 60
n = 0
while m[0] == 0 and time.monotonic() < deadline:
    n += 1
print("Content-Type: text/plain")
print()
print("released" if m[0] else "deadline")
