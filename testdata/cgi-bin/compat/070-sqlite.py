#!/usr/bin/python3
# COMPAT 70: a module-level sqlite3 connection with a transaction left
# open (never committed): under CGI the process exit rolls it back.
import sqlite3

import compat70_db

print("Content-Type: text/plain")
print()
try:
    compat70_db.conn.execute("insert into t values (1)")
    print("insert ok, rows visible here:", compat70_db.conn.execute("select count(*) from t").fetchone()[0])
except sqlite3.OperationalError as e:
    print("insert failed:", e)
