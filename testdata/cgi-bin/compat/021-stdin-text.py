#!/usr/bin/python3
# COMPAT 21: text stdin decoding of a body that is not valid UTF-8.
import sys

data = sys.stdin.read()
print("Content-Type: text/plain")
print()
print("encoding:", sys.stdin.encoding, sys.stdin.errors)
print("data:", ascii(data))
print("round trip:", data.encode(sys.stdin.encoding, sys.stdin.errors))
