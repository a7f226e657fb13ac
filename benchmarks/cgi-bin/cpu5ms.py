#!/usr/bin/python3
# CPU-bound: a fixed amount of pure-Python arithmetic, about 5 ms on the
# benchmark machine (Python 3.11, 2 cores). The work is a fixed count, not a
# time, so every server runs exactly the same instructions.
import os

ROUNDS = 100000


def work(n):
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1000003
    return acc


result = work(ROUNDS)
print("Content-Type: text/plain")
print()
print("rounds=%d result=%d" % (ROUNDS, result))
print("query=%s" % os.environ.get("QUERY_STRING", ""))
