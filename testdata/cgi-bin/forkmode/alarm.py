#!/usr/bin/python3
# A SIGALRM watchdog, as CGI scripts write them: the handler fires at
# 0.3 s and interrupts the 3 s sleep (only a real process has real signals).
import signal
import sys
import time


def watchdog(signum, frame):
    print("Content-Type: text/plain")
    print()
    print("watchdog fired after the sleep was interrupted")
    sys.exit(0)


signal.signal(signal.SIGALRM, watchdog)
signal.setitimer(signal.ITIMER_REAL, 0.3)
time.sleep(3)
print("Content-Type: text/plain")
print()
print("slept the whole 3 s")
