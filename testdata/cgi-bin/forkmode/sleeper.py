#!/usr/bin/python3
# Starts a child that sleeps forever, records its pid in the file named by
# the query string, then sleeps itself past any timeout.
import os
import subprocess
import time

child = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open(os.environ["QUERY_STRING"], "w") as f:
    f.write(str(child.pid))
time.sleep(1000)
