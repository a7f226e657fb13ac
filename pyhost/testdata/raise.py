print("Content-Type: text/plain\n")
print("partial")
def f():
    raise ValueError("boom in script")
f()
