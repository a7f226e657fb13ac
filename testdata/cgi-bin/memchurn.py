#!/usr/bin/python3
# Allocates some 20 MB (200,000 small strings, 300 buffers of 70 KB) and
# frees it as it ends; prints its process id. In a process-mode worker
# what it freed stays in malloc's arenas until the worker trims them
# (TestWorkerIdleTrim).
import json
import os

data = [json.dumps({"k": i, "v": "x" * (i % 300)}) for i in range(200000)]
keep = [bytearray(70000) for _ in range(300)]
print("Content-Type: text/plain")
print()
print(os.getpid(), len(data), len(keep))
