#!/usr/bin/python3
# A real fork: the child writes part of the response, the parent waits.
import os
import sys
print("Content-Type: text/plain")
print()
sys.stdout.flush()
parent = os.getpid()
pid = os.fork()
if pid == 0:
    print("child is another process:", os.getpid() != parent)
    sys.stdout.flush()
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("parent saw exit", os.waitstatus_to_exitcode(status))
