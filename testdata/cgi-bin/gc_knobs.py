#!/usr/bin/python3
# Interpreter-wide settings a CGI process starts with, then changed: the
# garbage collector's state, thresholds and debug flags, and the limit on
# int/str conversion digits (CVE-2020-10735). The next script must see the
# defaults again.
import gc
import sys

print("Content-Type: text/plain")
print()
# The default thresholds differ between Python versions: only whether a
# script's value is still there is shown.
print("gc enabled", gc.isenabled(), "threshold set here", gc.get_threshold() == (5, 5, 5), "debug", gc.get_debug())
print("int max str digits", sys.get_int_max_str_digits())
try:
    str(10 ** 5000)
    print("5001-digit str: allowed")
except ValueError:
    print("5001-digit str: refused")
gc.disable()
gc.set_threshold(5, 5, 5)
gc.set_debug(gc.DEBUG_SAVEALL)
sys.set_int_max_str_digits(0)
