print("Content-Type: text/plain")
print()
print("looping", flush=True)
while True:
    pass
