#!/usr/bin/python3
# COMPAT 66: more interpreter-wide knobs a script may change. Prints what
# it finds, then changes it all.
import builtins
import codecs
import decimal
import mimetypes
import sys
import time

print("Content-Type: text/plain")
print()
print("sys.executable changed:", sys.executable == "/compat66")
print("stdlib function patched:", getattr(time.ctime, "compat66", False))
print("switch interval:", sys.getswitchinterval())
print("mimetype:", mimetypes.guess_type("x.compat66"))
print("decimal prec:", decimal.getcontext().prec)
print("builtins marker:", hasattr(builtins, "compat66"))
try:
    codecs.lookup("compat66")
    print("codec: found")
except LookupError:
    print("codec: none")
except Exception as e:
    print("codec lookup fails:", type(e).__name__)

sys.executable = "/compat66"
sys.setswitchinterval(0.01)
patched = lambda *args: "compat66"
patched.compat66 = True
time.ctime = patched
mimetypes.add_type("text/x-compat66", ".compat66")
decimal.getcontext().prec = 5
builtins.compat66 = True
codecs.register(lambda name: codecs.CodecInfo(None, None, name="compat66") if name == "compat66" else None)
