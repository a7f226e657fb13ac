#!/usr/bin/python3
# Warm-up for the memory measurement: imports what the form script imports,
# then holds its worker for the milliseconds in the query string (default
# 50), so that as many concurrent requests as there are workers reach every
# worker at once. Answers with the process and OS thread it ran on, so the
# harness can count the workers it reached.
import cgi
import json
import os
import threading
import time

form = cgi.FieldStorage()
time.sleep(float(os.environ.get("QUERY_STRING") or "50") / 1000)
print("Content-Type: application/json")
print()
print(json.dumps({"pid": os.getpid(), "tid": threading.get_native_id(),
                  "fields": len(form.keys())}))
