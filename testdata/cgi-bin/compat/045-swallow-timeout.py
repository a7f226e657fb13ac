#!/usr/bin/python3
# COMPAT 45 and 50: a script that swallows every exception, so the
# exception warmcgi injects at --timeout cannot end it. Loops for at most
# 120 s.
import time

print("Content-Type: text/plain")
print()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        time.sleep(0.05)
    except BaseException:
        pass
print("gave up after 120 s")
