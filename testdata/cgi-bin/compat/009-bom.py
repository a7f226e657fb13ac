#!/usr/bin/python3
# COMPAT 9: a UTF-8 BOM before the #! line: the kernel cannot exec this file.
print("Content-Type: text/plain")
print()
print("SCRIPT-BODY: a BOM script ran")
