#!/usr/bin/python3
# Read the request body the way the CGI spec says to, or to EOF with ?read=all.
import hashlib
import os
import sys

length = os.environ.get("CONTENT_LENGTH", "")
if os.environ.get("QUERY_STRING") == "read=all":
    data = sys.stdin.buffer.read()
else:
    data = sys.stdin.buffer.read(int(length or 0))

print("Content-Type: text/plain")
print()
print("CONTENT_LENGTH=%s" % length)
print("HTTP_TRANSFER_ENCODING=%s" % os.environ.get("HTTP_TRANSFER_ENCODING", ""))
print("read %d bytes" % len(data))
print("sha256 %s" % hashlib.sha256(data).hexdigest())
