import sqlite3

db = sqlite3.connect(":memory:")
db.execute("create table hits (n integer)")
