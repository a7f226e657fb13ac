#!/usr/bin/python3
# COMPAT 66: interpreter-wide knobs a script changes are its own (the ones
# warmcgi restores; 066-knobs-open.py has the rest). Prints what it finds,
# then changes it all.
import csv
import socket
import sqlite3
import sys
import tempfile
import threading
import warnings

print("Content-Type: text/plain")
print()
print("sys.path marker:", "/compat66" in sys.path)
print("excepthook default:", sys.excepthook is sys.__excepthook__)
print("displayhook default:", sys.displayhook is sys.__displayhook__)
print("threading.excepthook default:", threading.excepthook is threading.__excepthook__)
print("warnings marker:", any(f[1] is not None and f[1].pattern == "compat66" for f in warnings.filters))
print("socket timeout:", socket.getdefaulttimeout())
print("csv field size limit:", csv.field_size_limit())
print("temporary directory:", tempfile.gettempdir())
print("sqlite3 adapters:", sorted(t.__name__ for t, _ in sqlite3.adapters))
print("sqlite3 converters:", sorted(sqlite3.converters))

sys.path.insert(0, "/compat66")
sys.excepthook = lambda *a: None
sys.displayhook = lambda v: None
threading.excepthook = lambda a: None
warnings.filterwarnings("ignore", message="compat66")
socket.setdefaulttimeout(3)
csv.field_size_limit(1 << 30)
tempfile.tempdir = "/compat66-tmp"
sqlite3.register_adapter(complex, str)
sqlite3.register_converter("compat66", bytes.upper)
