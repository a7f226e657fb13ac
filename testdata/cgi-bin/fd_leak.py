#!/usr/bin/python3
# Raw file descriptors a script opens and never closes, as a CGI process
# may: its exit closes them. One more is owned by a file object caught in
# a reference cycle, which closes it itself once collected.
import os
import tempfile

fd, path = tempfile.mkstemp()
os.unlink(path)
null = os.open("/dev/null", os.O_RDONLY)
r, w = os.pipe()


class Holder:
    pass


h = Holder()
h.me = h
h.f = os.fdopen(os.open("/dev/null", os.O_RDONLY), "rb")
print("Content-Type: text/plain")
print()
print("opened", len({fd, null, r, w}))
