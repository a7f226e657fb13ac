#!/usr/bin/python3
# Leaves a daemon thread behind that writes a second later: under CGI it
# dies with the process, and its line reaches no response.
import os
import threading
import time


def late():
    time.sleep(1)
    print("LATE from an earlier request", flush=True)


threading.Thread(target=late, daemon=True).start()
print("Content-Type: text/plain")
print()
print(os.getpid())
