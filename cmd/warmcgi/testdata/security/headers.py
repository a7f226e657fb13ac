#!/usr/bin/python3
# As many X-Echo header lines as the query asks for (a script echoing
# untrusted input into its headers).
import os

n = int(os.environ.get("QUERY_STRING") or "1")
print("Content-Type: text/plain")
for i in range(n):
    print("X-Echo: %d" % i)
print()
print("sent %d headers" % n)
