#!/usr/bin/env python3
# Loads a standard library module lazily (importlib.util's LazyLoader, as
# Mercurial's demandimport does) and probes it for a name it lacks, as
# json, typing and email probe for their optional C parts: the probe
# raises AttributeError, but the load succeeded, so the module stays warm
# for the next request like any other standard library module.
import importlib.util
import sys

print("Content-Type: text/plain")
print()
print("loaded before:", "colorsys" in sys.modules)
if "colorsys" not in sys.modules:
    spec = importlib.util.find_spec("colorsys")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["colorsys"] = module
    loader.exec_module(module)
module = sys.modules["colorsys"]
# The first access to the lazy module is the probe (an import statement
# would touch its __spec__ first).
print("probe:", hasattr(module, "no_such_name"), module.rgb_to_hsv(1, 0, 0))
