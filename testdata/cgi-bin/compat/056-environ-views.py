#!/usr/bin/python3
# COMPAT 56: every view of the environment agrees.
import os

print("Content-Type: text/plain")
print()
print("getenv:", os.getenv("QUERY_STRING"))
print("environ.get:", os.environ.get("QUERY_STRING"))
print("environb:", os.environb.get(b"QUERY_STRING"))
print("copy:", os.environ.copy()["QUERY_STRING"], type(os.environ.copy()).__name__)
print("types:", type(os.environ).__name__, type(os.environb).__name__)
print("same keys:", sorted(os.environ) == sorted(k.decode() for k in os.environb))
os.environ["COMPAT56"] = "caf\u00e9"
print("after write:", os.environb[b"COMPAT56"], os.getenv("COMPAT56"), dict(os.environ)["COMPAT56"])
os.environb[b"COMPAT56B"] = b"\xff"
print("bytes write:", ascii(os.environ["COMPAT56B"]))
os.environ.pop("COMPAT56")
print("after pop:", os.environb.get(b"COMPAT56"), os.getenv("COMPAT56"))
