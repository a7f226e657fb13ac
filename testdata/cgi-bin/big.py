#!/usr/bin/python3
# A large export: about 17 MB of CSV.
import sys

sys.stdout.write("Content-Type: text/csv\n\n")
for i in range(340000):
    sys.stdout.write("%07d,%s,%d\n" % (i, "record" * 6, i * 7 % 1000))
