#!/usr/bin/python3
# Writes and flushes until the client goes away, then records how it ended
# in the file named in the query string.
import os
import sys
import time

print("Content-Type: text/plain")
print()
result = "never broke"
try:
    for i in range(400):
        print("line", i, flush=True)
        time.sleep(0.05)
except BrokenPipeError:
    result = "BrokenPipeError"
with open(os.environ["QUERY_STRING"], "w") as f:
    f.write(result)
