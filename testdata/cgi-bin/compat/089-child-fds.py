#!/usr/bin/python3
# COMPAT 89: the fds a child inherits (os.system does not close any): only
# 0, 1, 2 and the one ls opens to read the directory.
import os
import subprocess
import sys

print("Content-Type: text/plain")
print()
sys.stdout.flush()
os.system("echo system: $(ls /proc/self/fd | sort -n)")
subprocess.run(["sh", "-c", "echo subprocess: $(ls /proc/self/fd | sort -n)"])
