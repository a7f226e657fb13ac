#!/usr/bin/python3
# COMPAT 13: a syntax error: 500, traceback in the error log.
print("Content-Type: text/plain")
print()
print "SCRIPT-BODY compat13 syntax"
