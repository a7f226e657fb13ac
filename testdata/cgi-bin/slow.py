#!/usr/bin/python3
# A progress page: flush, work a little, flush again.
import sys
import time

print("Content-Type: text/plain")
print()
for step in range(1, 4):
    print("step %d of 3" % step)
    sys.stdout.flush()
    time.sleep(0.1)
print("finished")
