#!/usr/bin/python3
# COMPAT 86: a child's environment is the request's.
import os
import subprocess
import sys

print("Content-Type: text/plain")
print()
sys.stdout.flush()
os.system("env | LC_ALL=C sort | grep -v '^PWD='")
out = subprocess.run(["env"], capture_output=True, text=True).stdout
print("subprocess env equals os.environ:",
      sorted(out.splitlines()) == sorted("%s=%s" % kv for kv in os.environ.items()))
