import sys
out = sys.stdout.buffer
