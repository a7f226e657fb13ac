#!/usr/bin/python3
print("Status: 404 Not Found")
print("Content-Type: text/html")
print()
print("<h1>No such record</h1>")
