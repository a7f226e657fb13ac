#!/usr/bin/python3
# COMPAT 30: stdout to a pipe is block-buffered; stderr is line-buffered
# (always, since Python 3.9).
import sys

print("Content-Type: text/plain")
print()
print("stdout line_buffering:", sys.stdout.line_buffering)
print("stderr line_buffering:", sys.stderr.line_buffering)
