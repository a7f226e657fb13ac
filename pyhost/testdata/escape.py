import cgi
print("Content-Type: text/plain\n")
print(cgi.escape('<a href="x">&</a>'), cgi.escape('"q"', True))
