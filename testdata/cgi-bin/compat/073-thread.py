#!/usr/bin/python3
# COMPAT 73: a non-daemon thread's output after the main code finished is
# still part of the response.
import threading
import time


def work():
    time.sleep(0.2)
    print("thread done")


print("Content-Type: text/plain")
print()
threading.Thread(target=work).start()
print("main done")
