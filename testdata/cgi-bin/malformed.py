#!/usr/bin/python3
print("Content-Type: text/plain")
print("This line has no colon")
print()
print("SCRIPT-BODY")
