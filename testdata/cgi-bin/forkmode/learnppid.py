#!/usr/bin/python3
# Imports what learn.py imports; prints the pid of the process it was
# forked from (fork mode: once learned, the sub-template with xmlrpc).
import os
import xmlrpc.client  # noqa: F401

print("Content-Type: text/plain")
print()
print(os.getppid())
