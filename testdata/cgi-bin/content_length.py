#!/usr/bin/python3
# Claims a shorter Content-Length than it sends; the server must recompute it.
print("Content-Type: text/plain")
print("Content-Length: 3")
print()
print("1234567")
