#!/usr/bin/python3
# The pid of the process this script was forked from (fork mode: the template).
import os

print("Content-Type: text/plain")
print()
print(os.getppid())
