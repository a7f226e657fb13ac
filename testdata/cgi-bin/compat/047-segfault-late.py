#!/usr/bin/python3
# COMPAT 47: a crash in C code a while after the response began (its
# first line is out by then): the response ends where the output ends,
# as it does under Apache, which sends the last chunk.
import ctypes
import time

print("Content-Type: text/plain")
print()
print("before the crash", flush=True)
time.sleep(0.3)
ctypes.string_at(0)
print("SCRIPT-BODY after the crash")
