#!/usr/bin/python3
# COMPAT 78: every request starts in the script's directory; os.chdir is
# the script's own.
import os

print("Content-Type: text/plain")
print()
print("cwd:", os.getcwd())
os.chdir("/")
print("after chdir:", os.getcwd())
