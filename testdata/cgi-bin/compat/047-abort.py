#!/usr/bin/python3
# COMPAT 47: os.abort() ends the script (and only the script).
import os

print("Content-Type: text/plain")
print()
print("before abort", flush=True)
print("SCRIPT-BODY lost")
os.abort()
