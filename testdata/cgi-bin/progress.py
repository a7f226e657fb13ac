#!/usr/bin/python3
# A progress page: flushes "waiting", then waits (at most 20 s) for the
# file named in the query string to appear, then finishes. Only a server
# that streams flushed output lets the client see "waiting" in time.
import os
import sys
import time

print("Content-Type: text/plain")
print()
print("waiting", flush=True)
marker = os.environ.get("QUERY_STRING", "")
deadline = time.time() + 20
while marker and not os.path.exists(marker) and time.time() < deadline:
    time.sleep(0.05)
print("done" if marker and os.path.exists(marker) else "gave up")
