#!/usr/bin/python3
print("Status: 418 I'm a teapot")
print("Content-Type: text/plain")
print()
print("short and stout")
