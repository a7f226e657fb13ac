#!/usr/bin/python3
# COMPAT 47: os.kill(os.getpid(), SIGTERM) ends the script.
import os
import signal

print("Content-Type: text/plain")
print()
print("before kill", flush=True)
print("SCRIPT-BODY lost")
os.kill(os.getpid(), signal.SIGTERM)
print("SCRIPT-BODY after kill")
