#!/usr/bin/python3
# COMPAT 3: sys.executable is the interpreter the #! line names (scripts
# run helpers with subprocess.run([sys.executable, ...])).
import subprocess
import sys

print("Content-Type: text/plain")
print()
print("sys.executable:", sys.executable)
print("runs:", subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip())
