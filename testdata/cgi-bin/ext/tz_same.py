#!/usr/bin/env python3
# Sets TZ to the server's own zone by another name ($WANT_TZ), as Django
# does with its TIME_ZONE on every request: nothing changes, so the script
# needs no other mode than a sub-interpreter.
import os
import time

os.environ["TZ"] = os.environ["WANT_TZ"]
time.tzset()
print("Content-Type: text/plain")
print()
print("zone", time.strftime("%Z %z", time.localtime(0)), time.tzname)
