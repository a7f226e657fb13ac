#!/usr/bin/python3
# Reads a large body in two steps and reports after the first: under CGI
# the body reaches the script while it arrives (COMPAT 19), so the first
# line is out before the client has sent the rest. A chunked body has no
# CONTENT_LENGTH.
import os
import sys

print("Content-Type: text/plain")
print()
first = sys.stdin.buffer.read(65536)
print("first", len(first), flush=True)
rest = sys.stdin.buffer.read()
print("total", len(first) + len(rest), "of", os.environ.get("CONTENT_LENGTH", "unknown"))
