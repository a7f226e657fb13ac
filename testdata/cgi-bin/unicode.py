#!/usr/bin/python3
print("Content-Type: text/plain; charset=utf-8")
print()
print("h\u00e9llo \u20ac")
print("\u65e5\u672c\u8a9e")
# A byte that is not UTF-8, smuggled through the way os.fsdecode does it.
print(b"caf\xe9".decode("utf-8", "surrogateescape"))
