print("Content-Type: text/plain")
print()
print("no interpreter line: the kernel cannot exec this")
