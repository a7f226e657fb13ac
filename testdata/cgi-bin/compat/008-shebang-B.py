#!/usr/bin/python3 -B
# COMPAT 8: -B; the script must run normally (bytecode writing is the server's business).
print("Content-Type: text/plain")
print()
print("ran with -B")
