# Every variable of the request's environment, one per line, sorted.
import os
print("Content-Type: text/plain\n")
for k, v in sorted(os.environb.items()):
    if k != b"LC_CTYPE":
        print(k.hex(), v.hex())
