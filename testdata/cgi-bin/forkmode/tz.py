#!/usr/bin/python3
# TZ + tzset changes the process's local time zone (?set), and only the
# request's own: without ?set the zone is the server's.
import os
import time

if os.environ.get("QUERY_STRING") == "set":
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
print("Content-Type: text/plain")
print()
print("timezone", time.timezone, "tm_gmtoff", time.localtime(0).tm_gmtoff, "tzname", time.tzname[0])
