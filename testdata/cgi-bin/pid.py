#!/usr/bin/python3
# Prints its process id: the same across requests when embedded, a new one
# per request as plain CGI.
import os
print("Content-Type: text/plain")
print()
print(os.getpid())
