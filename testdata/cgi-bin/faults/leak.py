#!/usr/bin/python3
# Leaks 80 MiB into a standard module, which stays loaded between requests.
import json
json._warmcgi_test_leak = getattr(json, "_warmcgi_test_leak", []) + [b"x" * (80 << 20)]
print("Content-Type: text/plain\n\nleaked")
