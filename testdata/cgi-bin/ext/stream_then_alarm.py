#!/usr/bin/env python3
# Sends part of its page, then arms and disarms a SIGALRM timer: under
# --isolation auto the request that shows the need has already reached the
# client, so it ends where it ran; the next one runs in auto's target mode.
# It prints the pid of the process it ran in.
import os
import signal
import sys

print("Content-Type: text/plain")
print()
print("part one")
sys.stdout.flush()
signal.alarm(30)
signal.alarm(0)
print("part two, pid", os.getpid())
