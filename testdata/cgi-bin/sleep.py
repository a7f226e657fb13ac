#!/usr/bin/python3
# A slow request: sleeps for the number of seconds in the query string.
import os
import time

time.sleep(float(os.environ.get("QUERY_STRING") or "1"))
print("Content-Type: text/plain")
print()
print("slept", os.environ.get("QUERY_STRING"))
