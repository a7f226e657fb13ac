#!/usr/bin/env python3
# Leaves output behind in every place a request's output can wait, for a
# client that hangs up early (TestProcessLeftovers): C's stdout, buffered
# again and never flushed; far more on stdout than a pipe holds, written
# after the server stopped reading; a tail in Python's stdout buffer; a
# partial line in Python's stderr, whose fd is then closed so its flush
# fails. None of it may reach the next request.
import ctypes
import os
import sys

sys.stdout.write("Content-Type: text/plain\n\n")
sys.stdout.flush()
libc = ctypes.CDLL(None)
libc.setvbuf.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t]
libc.fputs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
cstdout = ctypes.c_void_p.in_dll(libc, "stdout").value
libc.setvbuf(cstdout, None, 0, 65536)  # _IOFBF, as C makes it for a pipe
libc.fputs(b"LEFTOVER-C\n", cstdout)
chunk = "LEFTOVER-OUT " * 5000
try:
    for _ in range(4000):  # 260 MB: the client is gone long before
        sys.stdout.write(chunk)
except OSError:
    pass
try:
    sys.stdout.write("LEFTOVER-TAIL")
except OSError:
    pass
sys.stderr.write("LEFTOVER-ERR partial line")
os.close(2)
