#!/usr/bin/env python3
# Imports a good part of the standard library (tens of milliseconds of CPU
# the first time in an interpreter), then only sleeps for the milliseconds
# in the query string, and says which process and thread ran it. Under
# --isolation auto on a shared GIL it must stay in its sub-interpreters:
# the imports are each worker's first run, not the script's own cost.
import decimal
import email.mime.multipart
import email.mime.text
import http.cookies
import json
import os
import threading
import time
import urllib.parse
import xml.dom.minidom

time.sleep(float(os.environ.get("QUERY_STRING") or "0") / 1000)
print("Content-Type: text/plain")
print()
print("pid", os.getpid(), "tid", threading.get_native_id())
