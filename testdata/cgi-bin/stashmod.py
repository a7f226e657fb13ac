# Keeps the output stream it found at import time, the way Mercurial's
# procutil does (stdout = sys.stdout.buffer at module level).
import sys

stdout = sys.stdout.buffer


def write(text):
    stdout.write(text.encode("utf-8"))
    stdout.flush()
