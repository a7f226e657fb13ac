#!/usr/bin/env python3
# cgitb's page for an error: its inspect.getmodule walks sys.modules, where
# a broken lazy module left by another script would make it fail (and the
# page fall back to a bare <pre>).
import cgitb
import sys

cgitb.enable(display=1)
print("Content-Type: text/html")
print()
print("<p>modules:", len([m for m in sys.modules if m.startswith("halfpkg")]), "halfpkg</p>")
raise ValueError("cgitb page wanted")
