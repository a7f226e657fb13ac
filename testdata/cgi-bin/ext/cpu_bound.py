#!/usr/bin/env python3
# CPU-bound: spins for 8 ms of its own thread's CPU time, then says which
# process ran it. On a shared GIL (3.11, 3.12) --isolation auto moves such
# a script to worker processes after a few requests.
import os
import time

start = time.thread_time()
acc = 0
while time.thread_time() - start < 0.008:
    for i in range(1000):
        acc = (acc * 31 + i) % 1000003
print("Content-Type: text/plain")
print()
print("pid", os.getpid())
