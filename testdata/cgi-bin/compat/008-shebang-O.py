#!/usr/bin/python3 -O
"""Docstring that -O keeps."""
# COMPAT 8: -O compiles asserts out and makes __debug__ False.
print("Content-Type: text/plain")
print()
try:
    assert False, "asserts are on"
    print("asserts compiled out")
except AssertionError as e:
    print("assert raised:", e)
print("__debug__:", __debug__)
print("docstring:", __doc__)
