import os
import threading

print("Content-Type: text/plain")
print()
print(os.getcwd())
print(threading.get_ident())
