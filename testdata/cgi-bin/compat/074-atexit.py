#!/usr/bin/python3
# COMPAT 74: atexit handlers run when the script ends, last registered
# first; one that raises does not stop the others.
import atexit


def boom():
    raise RuntimeError("compat74 atexit error")


print("Content-Type: text/plain")
print()
atexit.register(print, "registered first")
atexit.register(boom)
atexit.register(print, "registered last")
print("main done")
