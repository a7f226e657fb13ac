#!/usr/bin/env python3
# Appends a line to $MARK and only then arms a SIGALRM timer: under
# --isolation auto the timer is seen in the script's source before it runs
# (signal.alarm), so not even its first request runs in a sub-interpreter,
# and each request appends one line, as under CGI.
import os
import signal

with open(os.environ["MARK"], "a") as f:
    f.write("%d\n" % os.getpid())
signal.alarm(30)
signal.alarm(0)
print("Content-Type: text/plain")
print()
print("marked")
