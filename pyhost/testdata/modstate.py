#!/usr/bin/python3
# Module state across requests in one interpreter (TestModuleStateRounds):
# each request prints what it finds, then does what QUERY_STRING says.
import json
import os
import string
import sys

print("Content-Type: text/plain")
print()
xml = sys.modules.get("xml")
print("json.dumps:", getattr(json.dumps, "modstate", "original"))
print("json.extra:", getattr(json, "extra", None))
print("os.modstate_flag:", getattr(os, "modstate_flag", None))
print("string.capwords:", hasattr(string, "capwords"))
print("xml.modstate_before:", getattr(xml, "modstate_before", None))
print("xml.dom.minidom:", hasattr(getattr(xml, "dom", None), "minidom"))

q = os.environ.get("QUERY_STRING", "")
if q == "write":
    # Two writes to one module, a name added, one deleted.
    patched = lambda *a, **k: "patched"
    patched.modstate = "patched"
    json.dumps = patched
    json.extra = 1
    json.extra = 2
    os.modstate_flag = True
    del string.capwords
elif q == "import":
    # A module changed before an import that also binds a name in it:
    # the change is put back, what the import bound stays.
    import xml

    xml.modstate_before = True
    import xml.dom.minidom  # noqa: F401
