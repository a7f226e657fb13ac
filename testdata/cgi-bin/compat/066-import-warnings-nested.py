#!/usr/bin/python3
# COMPAT 66: the warnings of a module that another one's import loaded come
# with that import, attributed to its line, unless the script imported the
# module first (Python 3.11: smtpd imports asyncore and asynchat).
import os
import warnings

print("Content-Type: text/plain")
print()
first = os.environ.get("QUERY_STRING") == "asyncore"
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    if first:
        import asyncore
    import smtpd
for w in seen:
    print(w.category.__name__, str(w.message)[:40], os.path.basename(w.filename), w.lineno)
print(smtpd.SMTPServer is not None)
