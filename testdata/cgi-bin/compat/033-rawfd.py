#!/usr/bin/python3
# COMPAT 33 and 80: raw use of fds 0, 1 and 2.
import os
import sys

os.write(1, b"Content-Type: text/plain\n\n")
os.write(sys.stdout.fileno(), b"raw write\n")
with open(1, "w", closefd=False) as f:
    f.write("via open(1)\n")
print("body:", os.read(0, 100))
print("isatty:", os.isatty(1))
# Mercurial's hook redirection: fd 1 to stderr, then back (flushing first,
# as it does).
sys.stdout.flush()
saved = os.dup(1)
os.dup2(2, 1)
os.write(1, b"compat33 raw to stderr while redirected\n")
os.dup2(saved, 1)
os.close(saved)
print("back on stdout")
os.write(2, b"compat33 raw to fd 2\n")
