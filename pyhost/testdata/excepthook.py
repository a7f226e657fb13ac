import sys
def hook(t, v, tb):
    print("Content-Type: text/html\n")
    print("<p>hooked %s: %s</p>" % (t.__name__, v))
sys.excepthook = hook
raise KeyError("k")
