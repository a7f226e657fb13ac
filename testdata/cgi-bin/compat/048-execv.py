#!/usr/bin/python3
# COMPAT 48: os.execv: the program becomes the rest of the response.
import os

print("Content-Type: text/plain")
print()
print("before exec", flush=True)
os.execv("/bin/sh", ["sh", "-c", 'echo "exec: $0 $QUERY_STRING $REQUEST_METHOD"; pwd', "argzero"])
