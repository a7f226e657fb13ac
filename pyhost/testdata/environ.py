import os, sys
import environhelper
print("Content-Type: text/plain\n")
print(os.environ is environhelper.ENV, os.environ.get("QUERY_STRING"), os.environ.get("STALE"),
      os.environb.get(b"QUERY_STRING"), os.getenv("LC_CTYPE"))
os.environ["STALE"] = "leak"
os.putenv("PUTENV_LEAK", "x")
