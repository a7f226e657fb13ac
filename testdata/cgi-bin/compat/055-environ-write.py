#!/usr/bin/python3
# COMPAT 55: writes to os.environ are the script's own (children see them);
# nothing of an earlier request's writes is left.
import os
import subprocess
import sys

print("Content-Type: text/plain")
print()
print("at start:", os.environ.get("COMPAT55"), os.getenv("COMPAT55_DEL", "(unset)"))
os.environ["COMPAT55"] = "written"
os.environ["COMPAT55_DEL"] = "x"
del os.environ["COMPAT55_DEL"]
print("after write:", os.environ["COMPAT55"], "COMPAT55_DEL" in os.environ)
sys.stdout.flush()
subprocess.run(["sh", "-c", 'echo "child sees: ${COMPAT55:-unset} ${COMPAT55_DEL:-unset}"'])
