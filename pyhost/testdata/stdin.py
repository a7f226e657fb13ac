import sys, os
n = int(os.environ.get("CONTENT_LENGTH") or 0)
head = sys.stdin.buffer.read(3)
rest = sys.stdin.read()
print("Content-Type: text/plain\n")
print(n, head, rest, repr(sys.stdin.read()))
exit()
