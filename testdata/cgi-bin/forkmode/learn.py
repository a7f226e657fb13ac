#!/usr/bin/python3
# Imports a standard-library module the fork template does not import at
# start; says whether this process had it before the import (fork mode
# learns it after the first request).
import sys

had = "xmlrpc" in sys.modules
import xmlrpc.client  # noqa: E402

print("Content-Type: text/plain")
print()
print("had xmlrpc:", had, xmlrpc.client.MAXINT > 0)
