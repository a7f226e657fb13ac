# Helper module of 070-sqlite.py: a connection made at import time.
import os
import sqlite3

conn = sqlite3.connect("/tmp/warmcgi-compat70-%d.db" % os.getuid(), timeout=0.2)
conn.execute("create table if not exists t (x)")
