#!/usr/bin/python3
# COMPAT 88: children inherit the script's cwd and umask.
import os
import subprocess
import sys

print("Content-Type: text/plain")
print()
sys.stdout.flush()
subprocess.run(["pwd"])
os.chdir("/tmp")
os.umask(0o027)
subprocess.run(["sh", "-c", "pwd; umask"])
os.system("pwd")
