#!/usr/bin/python3
# Raw descriptors: os.write(1, ...) and the fileno of the std streams.
import os
import sys
os.write(1, b"Content-Type: text/plain\n\n")
print("filenos", sys.stdin.fileno(), sys.stdout.fileno(), sys.stderr.fileno())
print("stdout", sys.stdout.encoding, sys.stdout.errors, sys.stdout.line_buffering)
print("stderr", sys.stderr.encoding, sys.stderr.errors, sys.stderr.line_buffering)
sys.stdout.flush()
os.write(1, b"raw write\n")
