#!/usr/bin/python3
# COMPAT 1: a script starts with the globals `python3 script.py` gives it.
_names = sorted(globals())
import sys

print("Content-Type: text/plain")
print()
print("names:", _names)
print("__name__:", __name__)
print("__doc__:", __doc__)
print("__package__:", __package__)
print("__spec__:", __spec__)
print("__cached__:", __cached__)
print("__builtins__ is a module:", type(__builtins__).__name__)
print("__main__ is this module:", sys.modules["__main__"].__dict__ is globals())
