#!/usr/bin/python3
# COMPAT 63/64: mutable default arguments, class attributes and module
# lists of a helper module start fresh in every request.
import compat64_helper

compat64_helper.Registry.items.append("x")
print("Content-Type: text/plain")
print()
print("remember:", compat64_helper.remember("x"))
print("Registry.items:", compat64_helper.Registry.items)
print("loaded:", compat64_helper.loaded)
