#!/usr/bin/python3
# COMPAT 93: cgi.escape was removed in Python 3.8: an old script fails.
import cgi

title = cgi.escape("<Caf\u00e9 & Bar>")
print("Content-Type: text/html")
print()
print("<h1>%s</h1>" % title)
