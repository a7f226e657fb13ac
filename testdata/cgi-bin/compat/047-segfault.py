#!/usr/bin/python3
# COMPAT 47: a crash in C code (here a read of address 0 through ctypes)
# kills a CGI process, and only it.
import ctypes

print("Content-Type: text/plain")
print()
print("before the crash", flush=True)
ctypes.string_at(0)
print("SCRIPT-BODY after the crash")
