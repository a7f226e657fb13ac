#!/usr/bin/env python3
# Sends part of its page, then sets its own time zone: under --isolation
# auto the request that shows the need (time.tzset with another TZ, seen
# only when it runs) has already reached the client, so it ends where it
# ran; the next one runs in auto's target mode. It prints the pid of the
# process it ran in.
import os
import sys
import time

print("Content-Type: text/plain")
print()
print("part one")
sys.stdout.flush()
os.environ["TZ"] = "Asia/Tokyo"
time.tzset()
print("part two, pid", os.getpid())
