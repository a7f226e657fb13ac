#!/usr/bin/python3
import os

print("Content-Type: text/plain")
print()
print("cwd=%s" % os.getcwd())
print("config.ini visible: %s" % os.path.exists("config.ini"))
