import sys
print("Content-Type: text/plain\n")
print("step 1", flush=True)
sys.stdout.buffer.write(b"step 2\n")
sys.stdout.flush()
try:
    print("step 3", flush=True)
    print("tail")
except BrokenPipeError:
    sys.stderr.write("client gone\n")
