#!/usr/bin/python3
# Imports its own config.py: /cgi-bin/a and /cgi-bin/b each have one.
import config

print("Content-Type: text/plain")
print()
print("config", config.NAME)
