#!/usr/bin/python3
# COMPAT 41: stderr goes to the server's error log, not to the client.
import sys

sys.stderr.write("compat41 first line to the log\n")
print("Content-Type: text/plain")
print()
print("body only")
print("compat41 second line", file=sys.stderr)
