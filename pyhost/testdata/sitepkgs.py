import sys
print("Content-Type: text/plain\n")
print(sys.flags.utf8_mode, sys.flags.isolated, sys.prefix)
print("\n".join(sys.path))
