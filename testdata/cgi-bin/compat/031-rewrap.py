#!/usr/bin/python3
# COMPAT 31: the ways scripts re-wrap or reconfigure stdout (?mode).
import codecs
import io
import os
import sys

mode = os.environ.get("QUERY_STRING", "plain")
if mode == "wrapper":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="latin-1")
elif mode == "codecs":
    sys.stdout = codecs.getwriter("utf-8")(sys.stdout.detach())
elif mode == "reconfigure":
    sys.stdout.reconfigure(encoding="latin-1")
elif mode == "open1":
    sys.stdout = open(1, "w", encoding="latin-1", closefd=False)
elif mode == "fdopen":
    sys.stdout = os.fdopen(sys.stdout.fileno(), "w", encoding="latin-1")
print("Content-Type: text/plain")
print()
print("mode %s: caf\u00e9" % mode)
print("encoding:", getattr(sys.stdout, "encoding", "(none)"))
