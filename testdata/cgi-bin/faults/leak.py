#!/usr/bin/python3
# Leaks 80 MiB into a list a standard module holds (json.__all__), which
# stays between requests: the names of a module are put back after each
# request, the contents of its objects are not.
import json
if not any(isinstance(x, bytes) for x in json.__all__):
    json.__all__.append(b"x" * (80 << 20))
print("Content-Type: text/plain\n\nleaked")
