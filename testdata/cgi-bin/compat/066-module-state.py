#!/usr/bin/python3
# COMPAT 66: names a script rebinds, adds or deletes in modules loaded
# before it ran (the standard library's and an installed package's) are
# its own: the next request finds each module as its import left it.
# Prints what it finds, then changes it all.
import builtins
import json
import os
import string
import textwrap

import markupsafe

print("Content-Type: text/plain")
print()
print("json.dumps replaced:", getattr(json.dumps, "compat66", False))
print("json.dumps works:", json.dumps({"a": 1}))
print("os attribute added:", hasattr(os, "compat66_flag"))
print("string.capwords there:", hasattr(string, "capwords"))
print("textwrap.dedent replaced:", getattr(textwrap.dedent, "compat66", False))
print("markupsafe.escape replaced:", getattr(markupsafe.escape, "compat66", False))
print("markupsafe.escape works:", markupsafe.escape("<a>"))
print("builtins.compat66:", hasattr(builtins, "compat66"))

patched = lambda *args, **kw: "compat66"
patched.compat66 = True
json.dumps = patched
os.compat66_flag = True
del string.capwords
textwrap.dedent = patched
markupsafe.escape = patched
builtins.compat66 = True
