#!/usr/bin/python3
print("Location: /cgi-bin/env.py?from=redirect")
print()
