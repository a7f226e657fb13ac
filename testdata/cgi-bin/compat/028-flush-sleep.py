#!/usr/bin/python3
# COMPAT 28: a progress page. It prints and flushes a first line, works
# (sleeps QUERY_STRING seconds, 1 by default), then prints the rest: a
# server that streams lets the client see the first line during the work.
import os
import sys
import time

print("Content-Type: text/plain")
print()
print("first line, flushed", flush=True)
time.sleep(float(os.environ.get("QUERY_STRING") or 1))
print("the rest, at the end")
