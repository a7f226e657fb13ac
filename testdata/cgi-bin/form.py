#!/usr/bin/python3
# Echo every submitted field; uploads are summarised, not echoed.
import cgi
import hashlib
import os

form = cgi.FieldStorage()

print("Content-Type: text/plain; charset=utf-8")
print()
print("method=%s" % os.environ.get("REQUEST_METHOD", ""))
for name in sorted(form.keys()):
    items = form[name]
    if not isinstance(items, list):
        items = [items]
    for item in items:
        if item.filename:
            data = item.file.read()
            print("%s: file %r, %d bytes, sha256 %s"
                  % (name, item.filename, len(data), hashlib.sha256(data).hexdigest()))
        else:
            print("%s=%s" % (name, item.value))
