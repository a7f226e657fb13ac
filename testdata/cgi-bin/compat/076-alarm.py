#!/usr/bin/python3
# COMPAT 76: the SIGALRM self-timeout idiom, and installing other handlers.
import signal
import time


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout("alarm fired")


print("Content-Type: text/plain")
print()
print("SIGALRM before:", signal.getsignal(signal.SIGALRM))
print("SIGTERM before:", signal.getsignal(signal.SIGTERM))
old = signal.signal(signal.SIGALRM, on_alarm)
print("old SIGALRM handler is SIG_DFL:", old == signal.SIG_DFL)
print("old SIGTERM handler is SIG_DFL:", signal.signal(signal.SIGTERM, lambda s, f: None) == signal.SIG_DFL)
def spin(seconds):
    # The busy loop is a function of its own: on 3.12+ an exception a signal
    # handler raises at a loop's back edge is not always caught by a try in
    # the same frame (CPython gh-108214); from a call inside the try it is.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


try:
    signal.alarm(1)
    spin(30)
    print("no alarm within 30 s")
except Timeout as e:
    print("caught:", e)
print("alarm left:", signal.alarm(0))
