#!/usr/bin/python3 -I
# COMPAT 5 and 8: -I keeps the script's directory off sys.path.
import os
import sys

print("Content-Type: text/plain")
print()
print("isolated:", sys.flags.isolated)
print("script dir on sys.path:", os.path.dirname(__file__) in sys.path)
