#!/usr/bin/env python3
# A SIGALRM watchdog around a blocking call, as CGI scripts guard a slow
# back end: under Apache the handler interrupts the sleep after 0.3 s.
import signal
import time


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.3)
start = time.monotonic()
try:
    time.sleep(3)
    outcome = "not interrupted"
except Timeout:
    outcome = "interrupted"
signal.setitimer(signal.ITIMER_REAL, 0)
print("Content-Type: text/plain")
print()
print("%s after %.1f s" % (outcome, time.monotonic() - start))
