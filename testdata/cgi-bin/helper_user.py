#!/usr/bin/python3
import mylib

print("Content-Type: text/plain")
print()
print(mylib.greeting("visitor"))
print("mylib from %s" % mylib.__file__)
