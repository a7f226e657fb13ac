#!/usr/bin/python3
# Imports its own package "pyrnotes" (../samename), named like the Pyramid
# application's: under CGI each script finds its own.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samename"))

import pyrnotes  # noqa: E402

print("Content-Type: text/plain")
print()
print("pyrnotes is", getattr(pyrnotes, "WHO", "the Pyramid application's"))
