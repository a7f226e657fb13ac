#!/usr/bin/python3
print("Status: 303 See Other")
print("Location: /cgi-bin/hello.py")
print("Content-Type: text/html")
print()
print('<p>Thanks! Go <a href="/cgi-bin/hello.py">here</a>.</p>')
