#!/usr/bin/python3
# COMPAT 69: a lock taken through a file that is never closed is released
# when the script ends.
import fcntl
import os

lockfile = open("/tmp/warmcgi-compat69-%d.lock" % os.getuid(), "a")
print("Content-Type: text/plain")
print()
try:
    fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked")
except BlockingIOError:
    print("busy: an earlier request still holds the lock")
