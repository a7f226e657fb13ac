#!/usr/bin/python3
print("Location: http://example.invalid/x")
print("Content-Type: text/html")
print()
print("<p>SCRIPT-BODY you should not see this</p>")
