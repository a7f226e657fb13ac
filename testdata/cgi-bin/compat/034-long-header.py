#!/usr/bin/python3
# COMPAT 34: a header line as long as the query string says.
import os

n = int(os.environ.get("QUERY_STRING") or "100")
print("Content-Type: text/plain")
print("X-Long: " + "a" * n)
print()
print("header of", n)
