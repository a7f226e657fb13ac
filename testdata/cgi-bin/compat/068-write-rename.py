#!/usr/bin/python3
# COMPAT 68: a file written and dropped without close() is flushed and
# closed at once, its last reference gone, so a rename and a read-back in
# the same request see the text (a classic wiki saves a page this way).
import os
import shutil
import tempfile
import threading

d = tempfile.mkdtemp(prefix="warmcgi-compat68-")
tmp = os.path.join(d, "page.tmp")
final = os.path.join(d, "page.txt")
open(tmp, "wt").write("saved page text\n")
os.rename(tmp, final)
page = open(final).read()

log = os.path.join(d, "log.txt")
open(log, "a").write("first\n")
print("second", file=open(log, "a"))
lines = open(log).read().split()

b = open(os.path.join(d, "data.bin"), "wb")
b.write(b"\x00binary\xff")
del b
data = open(os.path.join(d, "data.bin"), "rb").read()


def save(name, text):
    f = open(os.path.join(d, name), "w")
    f.write(text)


save("func.txt", "written in a function")
func = open(os.path.join(d, "func.txt")).read()


class Saver(threading.Thread):
    """A thread that keeps its file: both die once it is joined and dropped."""

    def run(self):
        self.f = open(os.path.join(d, "thread.txt"), "w")
        self.f.write("written by a thread")


t = Saver()
t.start()
t.join()
del t
thread = open(os.path.join(d, "thread.txt")).read()
shutil.rmtree(d)

print("Content-Type: text/plain")
print()
print("page read back:", repr(page))
print("appended lines:", lines)
print("binary read back:", repr(data))
print("function's file read back:", repr(func))
print("thread's file read back:", repr(thread))
