#!/usr/bin/python3
# What the interpreter tells a script about itself.
import sys

print("Content-Type: text/plain")
print()
print("argv[0]=%s" % sys.argv[0])
print("args=%r" % (sys.argv[1:],))
print("__name__=%s" % __name__)
print("__file__=%s" % __file__)
print("path[0]=%s" % sys.path[0])
