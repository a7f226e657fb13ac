#!/usr/bin/python3
print("Content-Type: text/plain")
print("Set-Cookie: session=abc123; Path=/")
print("Set-Cookie: theme=dark; Path=/; HttpOnly")
print("X-Multi: one")
print("X-Multi: two")
print()
print("cookies set")
