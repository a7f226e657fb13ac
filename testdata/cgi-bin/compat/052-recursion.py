#!/usr/bin/python3
# COMPAT 52 (and 66): deep recursion gives RecursionError, in Python and
# in C (json); the recursion limit a script sets is its own.
import json
import sys

print("Content-Type: text/plain")
print()
print("limit at start:", sys.getrecursionlimit())


def down(n):
    return down(n + 1)


try:
    down(0)
except RecursionError as e:
    print("python:", type(e).__name__)
sys.setrecursionlimit(20000)
nested = []
for _ in range(15000):
    nested = [nested]
print("json of 15000 levels:", len(json.dumps(nested)))
for _ in range(10000):
    nested = [nested]
try:
    json.dumps(nested)
except RecursionError as e:
    print("json of 25000 levels:", type(e).__name__)
