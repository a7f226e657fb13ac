#!/usr/bin/python3
# COMPAT 44: sys.exit("message") after the body: 200, message in the log.
import sys

print("Content-Type: text/plain")
print()
print("body before exit")
sys.exit("compat44 exit message")
