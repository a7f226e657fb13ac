#!/usr/bin/python3
# The forked child runs off the end of the script, as a child often does.
import os
import sys
print("Content-Type: text/plain")
print()
sys.stdout.flush()
pid = os.fork()
if pid:
    os.waitpid(pid, 0)
    print("parent done")
else:
    print("child done")
