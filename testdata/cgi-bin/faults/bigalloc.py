#!/usr/bin/python3
# Asks for 2 GiB at once.
data = bytearray(2 << 30)
print("Content-Type: text/plain")
print()
print("allocated", len(data))
