#!/usr/bin/python3
# FieldStorage() with its default arguments (environ=os.environ bound at import).
import cgi

form = cgi.FieldStorage()
print("Content-Type: text/plain")
print()
print("q=%s" % form.getfirst("q", "(none)"))
