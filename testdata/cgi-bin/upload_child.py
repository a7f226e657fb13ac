#!/usr/bin/python3
# Reads the start of a large body, then lets a child read the rest from
# its stdin, as a CGI child shares fd 0 (COMPAT 85-87).
import subprocess
import sys

head = sys.stdin.buffer.read(1000)
sys.stdout.write("Content-Type: text/plain\n\n")
sys.stdout.write("script read %d\n" % len(head))
sys.stdout.flush()
subprocess.run(["wc", "-c"])
