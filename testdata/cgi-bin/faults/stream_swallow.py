#!/usr/bin/python3
# Sends its headers and a first line, then never ends, swallowing
# whatever is raised into it.
import sys
sys.stdout.write("Content-Type: text/plain\n\nstarted\n")
sys.stdout.flush()
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
