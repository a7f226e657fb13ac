#!/usr/bin/python3
# F8 (COMPAT 76): an alarm armed while other threads keep the GIL busy can
# come due before signal.setitimer() has returned to the script. Under CGI
# the call returns at once and the signal comes after it, so the handler's
# exception must be raised in the script's own code, never inside the call.
import signal
import sys
import threading


class Alarm(Exception):
    pass


def on_alarm(signum, frame):
    raise Alarm()


signal.signal(signal.SIGALRM, on_alarm)
stop = []


def hog():
    while not stop:
        pass


sys.setswitchinterval(0.005)
hogs = [threading.Thread(target=hog) for _ in range(2)]
for h in hogs:
    h.start()
inside = after = 0
for _ in range(30):
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.0002)
    except Alarm:
        inside += 1
        continue
    # The wait calls nothing: CPython 3.13 can raise an asynchronous
    # exception that arrives during a call outside the try around it
    # (CPython issue 139622), which is not what this tests.
    try:
        n = 0
        while n < 100_000_000:
            n += 1
    except Alarm:
        after += 1
stop.append(1)
for h in hogs:
    h.join()
print("Content-Type: text/plain")
print()
print("inside", inside, "after", after)
