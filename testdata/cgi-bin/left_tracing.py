#!/usr/bin/python3
# A script that turns on every kind of tracer and profiler and leaves them
# on: sys.settrace, sys.setprofile, threading's hooks for new threads and
# (Python 3.12+) a sys.monitoring tool. Under CGI they end with the process
# (after firing in its shutdown code). Each writes "LEAKED" where it fires.
import sys
import threading


def tracer(frame, event, arg):
    if event == "call":
        print("LEAKED trace", frame.f_code.co_name)
    return None


def profiler(frame, event, arg):
    if event == "call":
        print("LEAKED profile", frame.f_code.co_name)


print("Content-Type: text/plain")
print()
print("tracers on")
threading.settrace(tracer)
threading.setprofile(profiler)
mon = getattr(sys, "monitoring", None)
if mon is not None:
    mon.use_tool_id(4, "left on")
    mon.register_callback(4, mon.events.PY_START, lambda code, offset: print("LEAKED monitoring", code.co_name))
    mon.set_events(4, mon.events.PY_START)
sys.setprofile(profiler)
sys.settrace(tracer)
