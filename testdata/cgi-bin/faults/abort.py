#!/usr/bin/python3
# os.abort(): the process dies by SIGABRT.
import os
os.abort()
