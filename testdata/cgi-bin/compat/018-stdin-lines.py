#!/usr/bin/python3
# COMPAT 18: reading the body to EOF through the text stream: line by
# line, or json.load(sys.stdin) with ?json.
import json
import os
import sys

print("Content-Type: text/plain")
print()
if os.environ.get("QUERY_STRING") == "json":
    print("json:", json.load(sys.stdin))
else:
    for line in sys.stdin:
        print("line:", repr(line))
print("then:", repr(sys.stdin.read()))
