#!/usr/bin/python3
# Dump the CGI environment, one KEY=value line per variable, sorted.
import os

print("Content-Type: text/plain; charset=utf-8")
print()
for key in sorted(os.environ):
    print("%s=%s" % (key, os.environ[key]))
