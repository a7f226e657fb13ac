#!/usr/bin/python3
print("Content-Type: text/plain")
print("X-Note: the blank line never comes")
