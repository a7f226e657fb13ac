# Which interpreter runs this: the main one, or a sub-interpreter.
try:
    import _interpreters as interpreters  # 3.13
except ImportError:
    import _xxsubinterpreters as interpreters  # 3.11, 3.12

print("Content-Type: text/plain")
print()
print("main" if interpreters.get_current() == interpreters.get_main() else "sub")
