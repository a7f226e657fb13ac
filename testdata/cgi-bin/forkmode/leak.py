#!/usr/bin/python3
# Leaks 200 MiB into a standard module and prints how much this process
# holds: in fork mode the next request starts from the template again.
import json

json._warmcgi_fork_leak = getattr(json, "_warmcgi_fork_leak", []) + [b"x" * (200 << 20)]
print("Content-Type: text/plain")
print()
print("leaks seen", len(json._warmcgi_fork_leak))
