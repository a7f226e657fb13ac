#!/usr/bin/python3
# Sets a variable that must not survive into the next request.
import os
os.environ["WARMCGI_Z"] = "leaked"
os.putenv("WARMCGI_Y", "leaked")
print("Content-Type: text/plain\n\nset")
