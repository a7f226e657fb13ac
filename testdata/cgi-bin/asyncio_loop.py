#!/usr/bin/python3
# Asyncio as older scripts use it: the main thread's event loop from
# asyncio.get_event_loop(), run, then closed. Under CGI every run gets a
# new loop, and the script runs in the process's main thread.
import asyncio
import sys
import threading
import warnings

warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "no current event loop"


async def answer():
    await asyncio.sleep(0)
    return 42


if sys.version_info >= (3, 14):
    # 3.14's get_event_loop() no longer makes a loop: a script for it sets one.
    asyncio.set_event_loop(asyncio.new_event_loop())
loop = asyncio.get_event_loop()
result = loop.run_until_complete(answer())
loop.close()
me = threading.current_thread()
print("Content-Type: text/plain")
print()
print("answer", result)
print("main thread", me is threading.main_thread(), me.name)
