#!/usr/bin/python3
# COMPAT 85 and 87: children write into the response and read the rest of
# the request body.
import os
import subprocess
import sys

print("Content-Type: text/plain")
print()
sys.stdout.flush()
os.system("echo system: $REQUEST_METHOD $QUERY_STRING")
print("popen:", os.popen("echo popen $CONTENT_LENGTH").read().strip(), flush=True)
subprocess.call(["dd", "bs=1", "count=5", "status=none"])
print(flush=True)
print("run:", subprocess.run(["printf", "%s", "captured"], capture_output=True).stdout)
print("rc:", subprocess.call(["sh", "-c", "exit 7"]))
print("status:", os.system("exit 3") >> 8)
print("rest of body:", sys.stdin.buffer.read())
sys.stdout.flush()
subprocess.call(["echo", "done"])
