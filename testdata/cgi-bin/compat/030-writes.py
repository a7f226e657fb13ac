#!/usr/bin/python3
# COMPAT 30: what sys.stdout.write does with what scripts hand it: the
# count it returns, surrogates, str subclasses, the TypeError for anything
# else, many writes and a large one, and an encoding changed midway.
import sys


class Markup(str):
    pass


w = sys.stdout.write
print("Content-Type: text/plain; charset=utf-8")
print()
print("returns", w("abc\n"), w("caf\u00e9 \u20ac\n"), w(""))
print("surrogateescape", w("\udce9\udcff\n"))
print("subclass", w(Markup("<b>markup</b>\n")))
for bad in (b"bytes", 42, None, bytearray(b"x")):
    try:
        w(bad)
    except TypeError as e:
        print("TypeError:", e)
sys.stdout.writelines(["one\n", "two\n"])
print("many", "args", 1, 2.5, None, sep="|", end=";\n")
for i in range(200):
    print("<tr><td>", i, "</td></tr>")
print("large", w("x" * 300000))
sys.stderr.write("compat30 stderr \udce9 \u20ac\n")
sys.stdout.flush()
sys.stdout.reconfigure(encoding="latin-1")
print("latin-1 caf\u00e9")
