#!/usr/bin/python3
# COMPAT 29: headers written as text, then the body through .buffer,
# without a flush in between. A real pipe puts the body first (the text
# layer's buffer is flushed at exit), which breaks the response; warmcgi
# keeps the order of the calls.
import sys

sys.stdout.write("Content-Type: application/octet-stream\n\n")
sys.stdout.buffer.write(b"\x00binary\xff\n")
