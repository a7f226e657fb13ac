import builtins
import os

print("Content-Type: text/plain")
print()
if os.environ["QUERY_STRING"] == "change":
    # Replace, delete and add names: every change must be gone next time.
    builtins.len = lambda x: 42
    del builtins.input
    builtins.added_by_script = True
    print("changed", len("ab"))
else:
    print("len", len("ab"), "input", hasattr(builtins, "input"),
          "added", hasattr(builtins, "added_by_script"))
