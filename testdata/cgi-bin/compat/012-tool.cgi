#!/usr/bin/python3
# COMPAT 12: a *.cgi Python script.
import os

print("Content-Type: text/plain")
print()
print("script:", os.path.basename(__file__), __name__)
