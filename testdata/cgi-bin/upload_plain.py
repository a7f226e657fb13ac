#!/usr/bin/python3 -S
# The same body as plain CGI (the -S flag): a child process that gets the
# body on its stdin as it arrives.
import sys

data = sys.stdin.buffer.read()
print("Content-Type: text/plain")
print()
print("plain read", len(data))
