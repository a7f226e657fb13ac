#!/usr/bin/python3
# COMPAT 20: the binary stdin API scripts use (os.read(0) first: a buffered
# reader may read ahead past what it returns).
import os
import sys

first = os.read(0, 3)
b = sys.stdin.buffer
line = b.readline()
chunk = b.read1(5)
buf = bytearray(4)
n = b.readinto(buf)
rest = b.read()
print("Content-Type: text/plain")
print()
print("fileno:", sys.stdin.fileno(), sys.stdin.buffer.fileno())
print("os.read(0, 3):", first)
print("readline:", line)
print("read1:", chunk)
print("readinto:", n, bytes(buf[:n]))
print("rest:", rest)
print("readable:", b.readable(), "at EOF:", b.read(), sys.stdin.read())
