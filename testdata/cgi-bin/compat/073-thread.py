#!/usr/bin/python3
# COMPAT 73: a non-daemon thread's output after the main code finished is
# still part of the response. The thread writes only once the main code has
# written its last line, so the order does not depend on how the threads are
# scheduled (with a GIL shared by busy interpreters the main thread can wait
# longer than any fixed sleep).
import threading
import time

main_done = threading.Event()


def work():
    main_done.wait()
    time.sleep(0.2)
    print("thread done")


print("Content-Type: text/plain")
print()
threading.Thread(target=work).start()
print("main done")
main_done.set()
