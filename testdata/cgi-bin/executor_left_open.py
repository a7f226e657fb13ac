#!/usr/bin/python3
# A ThreadPoolExecutor used without `with` or shutdown(), as scripts that
# fetch several things at once often do. Its worker threads wait for more
# work; the exit of a CGI process shuts it down after the work submitted
# (the last item finishes after the script's code has returned).
import time
from concurrent.futures import ThreadPoolExecutor


def late(n):
    time.sleep(0.2)
    print("late item", n, flush=True)


pool = ThreadPoolExecutor(2)
squares = list(pool.map(lambda n: n * n, range(5)))
print("Content-Type: text/plain")
print()
print("squares", squares, flush=True)
pool.submit(late, 1)
