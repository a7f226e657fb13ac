#!/usr/bin/python3
# A shell fork bomb: only the process limit and the timeout end it. The
# script then waits in Python (a sleep(1) would need a fork, which the
# limit may refuse), so the timeout always ends the request.
import os
import time
os.system("b() { b | b & }; b")
time.sleep(600)
print("Content-Type: text/plain\n\nsurvived")
