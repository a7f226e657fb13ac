#!/usr/bin/python3
# Blocks in a system call for ten minutes.
import time
time.sleep(600)
print("Content-Type: text/plain\n\nwoke up")
