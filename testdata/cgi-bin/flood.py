#!/usr/bin/env python3
# Streams 256 MiB in flushed 64 KiB pieces: a client that does not read
# must not keep the worker behind it busy for ever (--write-timeout).
import sys

sys.stdout.write("Content-Type: application/octet-stream\n\n")
sys.stdout.flush()
piece = b"x" * 65536
for _ in range(4096):
    sys.stdout.buffer.write(piece)
    sys.stdout.flush()
