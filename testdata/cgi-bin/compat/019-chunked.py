#!/usr/bin/python3
# COMPAT 19: a chunked request body as Apache hands it on: no CONTENT_LENGTH,
# HTTP_TRANSFER_ENCODING=chunked, the de-chunked body on stdin up to EOF;
# with ?form, what the legacy cgi.FieldStorage makes of it.
import hashlib
import os
import sys


def digest(b):
    return "%d bytes, sha256 %s" % (len(b), hashlib.sha256(b).hexdigest()[:16])


print("Content-Type: text/plain")
print()
print("CONTENT_LENGTH set:", "CONTENT_LENGTH" in os.environ, repr(os.environ.get("CONTENT_LENGTH")))
print("HTTP_TRANSFER_ENCODING:", os.environ.get("HTTP_TRANSFER_ENCODING"))
if os.environ.get("QUERY_STRING") == "form":
    import cgi

    form = cgi.FieldStorage()
    for key in sorted(form.keys()):
        items = form[key] if isinstance(form[key], list) else [form[key]]
        for item in items:
            value = item.value
            if isinstance(value, bytes):
                value = digest(value)
            print("field %s: filename %r, %s" % (key, item.filename, value))
else:
    first = sys.stdin.buffer.read(7)
    rest = sys.stdin.buffer.read()
    print("stdin:", digest(first + rest), "starts", first)
    print("at EOF:", sys.stdin.buffer.read(), sys.stdin.read())
