#!/usr/bin/env python3
# Loads json lazily (importlib.util's LazyLoader, as Mercurial's
# demandimport does). Its load reads a name from json itself before it is
# bound (json.decoder's `from json import scanner`): from Python 3.12.3
# LazyLoader answers that read with an AttributeError naming neither the
# module nor the name. The load succeeded: json stays warm for the next
# request like any other standard library module.
import importlib.util
import sys

print("Content-Type: text/plain")
print()
print("loaded before:", "json" in sys.modules)
if "json" not in sys.modules:
    spec = importlib.util.find_spec("json")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["json"] = module
    loader.exec_module(module)
module = sys.modules["json"]
print("dumps:", module.dumps({"a": [1, 2]}))
