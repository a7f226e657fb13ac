#!/usr/bin/python3
# COMPAT 43: a daemon thread writing after the script ended: under CGI it
# dies with the process; its output must never reach another response.
# It starts counting only when the script's last line has run, so a busy
# machine cannot make it write while the script is still running.
import threading
import time

ended = threading.Event()


def late():
    ended.wait()
    time.sleep(0.3)
    print("compat43 LATE output", flush=True)


threading.Thread(target=late, daemon=True).start()
print("Content-Type: text/plain")
print()
print("main done")
ended.set()
