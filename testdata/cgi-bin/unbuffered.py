#!/usr/bin/python3 -u
# A shebang with an interpreter flag: run as the shebang says.
import sys
print("Content-Type: text/plain")
print()
print("unbuffered:", sys.stdout.line_buffering or not sys.stdout.buffer.__class__.__name__.startswith("Buffered"))
