#!/usr/bin/python3
# A script that profiles and traces its own code, as scripts under
# investigation do: cProfile around an import of its helper module (which
# the server imports afresh for each request), and sys.settrace around a
# call. It names the functions each saw.
import cProfile
import pstats
import sys

pr = cProfile.Profile()
pr.enable()
import mylib
pr.disable()
profiled = sorted({f for (_, _, f) in pstats.Stats(pr).stats} & {"greeting", "<module>"})

calls = []


def tracer(frame, event, arg):
    if event == "call":
        calls.append(frame.f_code.co_name)
    return None


sys.settrace(tracer)
mylib.greeting("tracer")
sys.settrace(None)

print("Content-Type: text/plain")
print()
print("profiled:", " ".join(profiled))
print("traced:", " ".join(calls))
