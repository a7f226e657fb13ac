#!/usr/bin/env python3
# Sets its own time zone, as CGI scripts do: under Apache, TZ + time.tzset()
# change this process's local time.
import os
import time

os.environ["TZ"] = "Asia/Tokyo"
time.tzset()
print("Content-Type: text/plain")
print()
print("zone", time.strftime("%Z", time.localtime(0)))
