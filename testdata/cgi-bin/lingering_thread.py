#!/usr/bin/python3
# Leaves a daemon thread that runs on for a while after the request: under
# CGI it dies with the process; in a sub-interpreter it keeps that
# interpreter from being ended when its worker is replaced.
import threading
import time

threading.Thread(target=time.sleep, args=(20,), daemon=True).start()
print("Content-Type: text/plain")
print()
print("thread started")
