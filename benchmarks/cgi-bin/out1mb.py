#!/usr/bin/python3
# A large response: exactly 1 MiB of CSV (16384 lines of 64 bytes), written
# in 64 KiB pieces as a report export would, with no Content-Length.
import sys

LINES = 16384
PER_WRITE = 1024

out = sys.stdout
out.write("Content-Type: text/csv\n\n")
out.flush()
for start in range(0, LINES, PER_WRITE):
    out.write("".join("%08d,%-47s,%06d\n" % (i, "item-%d" % i, i * 7 % 1000000)
                      for i in range(start, start + PER_WRITE)))
