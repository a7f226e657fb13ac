#!/usr/bin/python3
# Sends its headers and a first line, then loops: only the server's time
# limit ends it, after the response has begun.
import sys

print("Content-Type: text/plain")
print()
print("partial", flush=True)
while True:
    pass
