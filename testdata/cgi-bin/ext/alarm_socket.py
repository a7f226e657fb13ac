#!/usr/bin/env python3
# A SIGALRM watchdog around a blocking socket read, as a script guards a
# back end that may never answer: under Apache the handler interrupts the
# recv after 0.3 s.
import signal
import socket
import time


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


ours, theirs = socket.socketpair()  # the other end never writes
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.3)
start = time.monotonic()
try:
    ours.recv(1)
    outcome = "not interrupted"
except Timeout:
    outcome = "interrupted"
signal.setitimer(signal.ITIMER_REAL, 0)
print("Content-Type: text/plain")
print()
print("recv %s after %.1f s" % (outcome, time.monotonic() - start))
