#!/usr/bin/python3
# A complete response, flushed, then os._exit(0): Apache serves it.
import os
import sys
print("Content-Type: text/plain")
print()
print("sent before os._exit")
sys.stdout.flush()
os._exit(0)
