#!/usr/bin/python3
# An infinite loop: only the server's time limit ends it.
print("Content-Type: text/plain")
print()
while True:
    pass
