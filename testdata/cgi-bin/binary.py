#!/usr/bin/python3
# Text headers, then a binary body through the underlying byte stream.
import sys

body = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\x00\xff\r\n\r\nIEND"

sys.stdout.write("Content-Type: image/png\r\n")
sys.stdout.write("Content-Disposition: inline; filename=dot.png\r\n\r\n")
sys.stdout.flush()
sys.stdout.buffer.write(body)
