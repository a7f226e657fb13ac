#!/usr/bin/python3
# COMPAT 67: an earlier request's random.seed(42) must not make this one
# predictable. Prints what it finds, then seeds.
import random

print("Content-Type: text/plain")
print()
print("predictable:", random.random() == random.Random(42).random())
random.seed(42)
