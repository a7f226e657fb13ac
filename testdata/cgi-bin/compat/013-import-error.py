#!/usr/bin/python3
# COMPAT 13: an import error before the headers: 500, traceback in the log.
import compat13_no_such_module

print("Content-Type: text/plain")
print()
print("SCRIPT-BODY")
