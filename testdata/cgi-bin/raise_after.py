#!/usr/bin/python3
print("Content-Type: text/plain")
print()
print("partial output")
raise ValueError("raise_after marker 5e1c")
