# Reads its request, lets other threads run, then reports what it sees:
# a request that ran in between would show up as another query string.
import os
import sys
import time

q = os.environ["QUERY_STRING"]
time.sleep(0.02)
print("Content-Type: text/plain")
print()
print(q, os.environ["QUERY_STRING"], sys.argv[1:])
