import _testsinglephase

print("Content-Type: text/plain")
print()
print("single-phase", _testsinglephase.__name__)
