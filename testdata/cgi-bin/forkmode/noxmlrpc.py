#!/usr/bin/python3
# Imports nothing beyond sys: says whether its process has xmlrpc, which
# learn.py's imports bring (fork mode: a script forks from a template with
# only what it needs, as a fresh python3 has only what it imports).
import sys

print("Content-Type: text/plain")
print()
print("xmlrpc loaded:", "xmlrpc" in sys.modules)
