# A lazily built table of the standard library is learned as the module's
# baseline (modcache.c); what a script rebinds is put back. Each request
# prints what it found as it started, then does its writes.
import mimetypes
import os
import posixpath
import urllib.parse
import urllib.request

table = urllib.parse._hextobyte
print("Content-Type: text/plain")
print()
print("hextobyte:", "None" if table is None else "built %d" % id(table))
print("opener:", urllib.request._opener)
print("db:", mimetypes._db)
print("altsep:", posixpath.altsep)

# The table, built by the module's own code: the same every time.
assert urllib.parse.unquote("%41%42") == "AB"
# Plain data that differs between requests: put back every time.
mimetypes._db = os.environ.get("QUERY_STRING", "")
# Not plain data, though the same object every time: put back.
urllib.request._opener = os
# A public name the script sets, the same plain data every time: put back.
posixpath.altsep = "lazycache"
