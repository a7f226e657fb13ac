#!/usr/bin/python3
# numpy refuses sub-interpreters: it runs with --isolation-for 'main/*=main'
# (or in process mode); in a sub-interpreter the log names that fix.
import numpy

print("Content-Type: text/plain")
print()
print("numpy sum", numpy.arange(5).sum())
