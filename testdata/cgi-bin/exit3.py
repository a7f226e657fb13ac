#!/usr/bin/python3
import sys

print("Content-Type: text/plain")
print()
print("done, exiting with status 3")
sys.exit(3)
