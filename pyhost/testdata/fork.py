import os
print("Content-Type: text/plain\n")
try:
    os.fork()
except RuntimeError as e:
    print("refused:", "os.fork() is not available" in str(e))
