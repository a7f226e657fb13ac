#!/usr/bin/python3
# COMPAT 57: C-level getenv() and time.tzset() see what the script put in
# os.environ.
import ctypes
import os
import time

print("Content-Type: text/plain")
print()
os.environ["COMPAT57"] = "c-level"
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
print("getenv(COMPAT57):", libc.getenv(b"COMPAT57"))
os.environ["TZ"] = "Asia/Tokyo"
time.tzset()
print("tzname:", time.tzname, time.strftime("%H:%M %Z", time.localtime(0)))
