#!/usr/bin/python3 -Werror
# COMPAT 8: a -W shebang flag turns warnings into errors.
import warnings

print("Content-Type: text/plain")
print()
try:
    warnings.warn("compat 8 warning", UserWarning)
    print("warning not raised")
except UserWarning as e:
    print("warning raised:", e)
