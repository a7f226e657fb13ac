#!/usr/bin/python3
# COMPAT 90: background children that keep stdout open: under CGI
# os.system returns at once, and the response ends only when the last
# holder closes stdout (here 1 s and 2 s after the script ended).
import os
import subprocess

print("Content-Type: text/plain")
print()
print("script start", flush=True)
os.system("(sleep 1; echo system child done) &")
subprocess.Popen(["sh", "-c", "sleep 2; echo Popen child done"])
print("script end", flush=True)
