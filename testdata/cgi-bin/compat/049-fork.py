#!/usr/bin/python3
# COMPAT 49: os.fork in a CGI script.
import os

print("Content-Type: text/plain")
print()
print("parent before fork", flush=True)
pid = os.fork()
if pid == 0:
    print("child writes", flush=True)
    os._exit(5)
_, status = os.waitpid(pid, 0)
print("child exit status:", os.waitstatus_to_exitcode(status))
