#!/usr/bin/env python3
# What C code that keeps getenv's pointer sees (TestProcessEnvironKept):
# "?keep" prints where getenv("HTTP_X_KEEP") points, "?read=ADDR" prints
# the string at ADDR (from an earlier request of the same process).
import ctypes
import os

libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_void_p
libc.getenv.argtypes = [ctypes.c_char_p]
q = os.environ.get("QUERY_STRING", "")
print("Content-Type: text/plain")
print()
if q == "keep":
    print(libc.getenv(b"HTTP_X_KEEP"))
elif q.startswith("read="):
    print(ctypes.string_at(int(q[5:])).decode("latin-1"))
else:
    print(os.environ.get("HTTP_X_KEEP"))
