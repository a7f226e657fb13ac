#!/usr/bin/env python3
# Writes its body through C's stdout (as a C extension's printf would),
# without flushing it: the process's end sends it, as under CGI.
import ctypes
import sys

sys.stdout.write("Content-Type: text/plain\n\n")
sys.stdout.flush()
libc = ctypes.CDLL(None)
libc.fputs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
libc.fputs(b"from C\n", ctypes.c_void_p.in_dll(libc, "stdout").value)
