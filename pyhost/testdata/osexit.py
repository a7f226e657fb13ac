import os, sys
print("Content-Type: text/plain\n")
print("flushed")
sys.stdout.flush()
print("lost: never flushed")
os._exit(3)
