#!/usr/bin/python3
# COMPAT 68: a script that makes a file of its own its sys.stderr (a log)
# leaves it unflushed and open; its exit flushes and closes it, and
# nothing is reported about it.
import os
import sys

sys.stderr = open("/tmp/warmcgi-compat68-stderr-%d.log" % os.getuid(), "a")
sys.stderr.write("compat68 a line to the script's own log\n")
print("compat68 written with print", file=sys.stderr)
print("Content-Type: text/plain")
print()
print("stderr is the script's file:", sys.stderr.name.endswith(".log"))
