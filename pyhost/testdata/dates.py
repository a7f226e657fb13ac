#!/usr/bin/python3
# datetime's C module, and sqlite3, which imports it, in several own-GIL
# interpreters of one process (see TestDatetimeInSubinterpreters).
import datetime
import sqlite3

db = sqlite3.connect(":memory:")
n = db.execute("select julianday('2026-12-05')").fetchone()[0]
print("Content-Type: text/plain")
print()
print(datetime.date(2026, 12, 5).isoformat(), datetime.timedelta(days=n).days)
