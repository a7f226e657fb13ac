#!/usr/bin/python3
print("X-Generator: nocontenttype.py")
print()
print("no content type here")
