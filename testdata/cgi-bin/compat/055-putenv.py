#!/usr/bin/python3
# COMPAT 55/57: os.putenv (not os.environ) reaches children and C getenv
# under CGI, because it changes the process environment.
import os
import subprocess
import sys

print("Content-Type: text/plain")
print()
os.putenv("COMPAT55P", "put")
print("os.environ has it:", "COMPAT55P" in os.environ)
sys.stdout.flush()
subprocess.run(["sh", "-c", 'echo "child sees: ${COMPAT55P:-unset}"'])
