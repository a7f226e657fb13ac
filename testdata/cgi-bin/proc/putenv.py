#!/usr/bin/python3
# The environment a child sees: os.environ writes and os.putenv.
import os
import sys
os.environ["WARMCGI_X"] = "from-environ"
os.putenv("WARMCGI_Y", "from-putenv")
print("Content-Type: text/plain")
print()
sys.stdout.flush()
os.system('echo "X=$WARMCGI_X Y=$WARMCGI_Y Z=${WARMCGI_Z-unset}"')
