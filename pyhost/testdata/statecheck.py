import logging, random, socket, sys, warnings
# An earlier request's random.seed(42) must not make this predictable.
reseeded = random.random() != random.Random(42).random()
print("Content-Type: text/plain\n")
print(reseeded, len(logging.root.handlers), len(logging.getLogger("app").handlers), logging.root.level,
      any(f[0] == "ignore" and f[2] is Warning for f in warnings.filters),
      sys.getrecursionlimit() != 54321, socket.getdefaulttimeout(), "/state-test" in sys.path)
