DUNDERS = sorted(k for k in globals() if k.startswith("__"))
import pickle, sys, __main__
class Thing:
    pass
print("Content-Type: text/plain\n")
print(__main__.Thing is Thing, type(pickle.loads(pickle.dumps(Thing()))).__name__,
      DUNDERS, sys.path[0] == __file__.rsplit("/", 1)[0])
