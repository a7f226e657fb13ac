#!/usr/bin/python3
# COMPAT 46: os._exit ends the script; unflushed output is lost.
import os

print("Content-Type: text/plain")
print()
print("flushed", flush=True)
print("SCRIPT-BODY lost")
os._exit(3)
