#!/usr/bin/python3
# The working directory: the script's own at the start, and os.chdir is
# seen by children.
import os
import sys
start = os.getcwd()
os.chdir("/tmp")
print("Content-Type: text/plain")
print()
print("start", start)
sys.stdout.flush()
os.system("pwd")
