#!/usr/bin/python3
# Never ends, and swallows whatever is raised into it.
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
