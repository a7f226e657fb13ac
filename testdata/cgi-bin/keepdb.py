#!/usr/bin/python3
# COMPAT 84: a helper keeps an sqlite3 connection at module level; with
# --modules keep it lives across requests, and sqlite3 refuses a
# connection used from another thread than the one that made it.
import keepdb_helper

keepdb_helper.db.execute("insert into hits values (1)")
n = keepdb_helper.db.execute("select count(*) from hits").fetchone()[0]
print("Content-Type: text/plain")
print()
print("ok", n > 0)
