#!/usr/bin/python3
# COMPAT 23: cgi module globals a script sets must not reach the next
# request. Prints what it finds, then changes it.
import cgi

print("Content-Type: text/plain")
print()
print("maxlen:", cgi.maxlen)
print("logfile:", repr(cgi.logfile))
print("log:", cgi.log.__name__)
print("logfp:", cgi.logfp)
cgi.maxlen = 10
cgi.logfile = "/dev/null"
cgi.log("compat 23")
