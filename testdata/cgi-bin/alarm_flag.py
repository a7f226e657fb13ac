#!/usr/bin/python3
# A SIGALRM handler that only takes note (COMPAT 76): it gets the frame the
# script was running.
import signal
import time

got = []
signal.signal(signal.SIGALRM, lambda signum, frame: got.append(frame.f_code.co_name))
signal.setitimer(signal.ITIMER_REAL, 0.001)
deadline = time.monotonic() + 5
while not got and time.monotonic() < deadline:
    time.sleep(0.001)
print("Content-Type: text/plain")
print()
print("handler ran in", got)
