#!/usr/bin/python3
# COMPAT 40: cgitb.enable() shows an HTML traceback to the client.
import cgitb
import sys
import time

# cgitb's heading names the clock and sys.executable: fix both while it
# writes (the executable is compared on its own by 003-executable.py).
cgitb.enable()
hook = sys.excepthook


def excepthook(*info):
    saved = sys.executable, time.ctime
    sys.executable, time.ctime = "<python>", lambda *args: "<fixed time>"
    try:
        hook(*info)
    finally:
        sys.executable, time.ctime = saved


sys.excepthook = excepthook
print("Content-Type: text/html")
print()
print("<p>before the error</p>")


def divide(a, b):
    return a / b


divide(1, 0)
