#!/usr/bin/python3
print("Status: 403 Members Only")
print("Content-Type: text/plain")
print()
print("please log in")
