#!/usr/bin/python3
def load_settings():
    raise ValueError("raise_before marker 9b2d")


settings = load_settings()
print("Content-Type: text/plain")
print()
print("SCRIPT-BODY %s" % settings)
