import os, sys
os.write(1, b"Content-Type: text/plain\n\n")
os.write(sys.stdout.fileno(), b"raw write\n")
with open(1, "w", closefd=False) as f:
    f.write("via open(1)\n")
print("body:", os.read(0, 100))
os.closerange(3, 3)
try:
    os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
except PermissionError as e:
    print("dup2 refused")
os.close(1)
try:
    print("after close")
except ValueError:
    pass
