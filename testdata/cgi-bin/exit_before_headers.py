#!/usr/bin/python3
import os
import sys

# Nothing asked for: leave quietly (and, by mistake, without any output).
if not os.environ.get("QUERY_STRING"):
    sys.exit(0)
print("Content-Type: text/plain")
print()
print("SCRIPT-BODY")
