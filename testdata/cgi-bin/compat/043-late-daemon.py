#!/usr/bin/python3
# COMPAT 43: a daemon thread writing after the script ended: under CGI it
# dies with the process; its output must never reach another response.
import threading
import time


def late():
    time.sleep(0.3)
    print("compat43 LATE output", flush=True)


threading.Thread(target=late, daemon=True).start()
print("Content-Type: text/plain")
print()
print("main done")
