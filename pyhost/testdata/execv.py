import os
print("Content-Type: text/plain\n", flush=True)
print("lost: unflushed before exec")
os.execvp("sh", ["sh", "-c", "echo exec $QUERY_STRING"])
print("not reached")
