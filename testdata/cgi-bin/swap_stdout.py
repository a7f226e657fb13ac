#!/usr/bin/python3
# The usual Python 3 CGI fix for "UnicodeEncodeError": re-wrap stdout.
import io
import sys

sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8")

print("Content-Type: text/plain; charset=utf-8")
print()
print("wrapped stdout: \u00fcml\u00e4ut")
