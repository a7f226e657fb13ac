#!/usr/bin/python3
print("Content-Type: text/plain")
print()
print("leaving with exit()")
exit()
print("SCRIPT-BODY not reached")
