#!/usr/bin/env python3
# Writes its headers through Python's sys.stdout and its body through C's
# stdout (as a C extension's printf would), flushing neither: as under
# CGI, Python's buffer goes out first as the script ends, then C's.
import ctypes
import sys

sys.stdout.write("Content-Type: text/plain\n\n")
libc = ctypes.CDLL(None)
libc.fputs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
libc.fputs(b"from C\n", ctypes.c_void_p.in_dll(libc, "stdout").value)
