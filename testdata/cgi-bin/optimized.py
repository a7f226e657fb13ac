#!/usr/bin/python3 -OO
"""A module docstring that -OO strips."""
# Shebang flags: -OO compiles asserts and docstrings out.
print("Content-Type: text/plain")
print()
try:
    assert False, "asserts are on"
    print("asserts compiled out")
except AssertionError as e:
    print("assert raised:", e)
print("__debug__:", __debug__)
print("docstring:", __doc__)
