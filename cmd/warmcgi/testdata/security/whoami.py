#!/usr/bin/python3
# The identity the script runs with, and whether it can become root again.
import os

try:
    os.setuid(0)
    regained = "yes"
except OSError:
    regained = "no"

print("Content-Type: text/plain")
print()
print("uid=%d euid=%d gid=%d egid=%d" % (os.getuid(), os.geteuid(), os.getgid(), os.getegid()))
print("groups=%s" % ",".join(str(g) for g in sorted(os.getgroups())))
print("setuid0=%s" % regained)
