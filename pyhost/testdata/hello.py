#!/usr/bin/python3
import sys, os
print("Content-Type: text/plain")
print()
print("hello", os.environ.get("QUERY_STRING"), sys.argv[1:], __name__)
