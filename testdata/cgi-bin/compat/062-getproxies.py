#!/usr/bin/python3
# COMPAT 62: urllib's proxy settings under CGI (httpoxy: a Proxy request
# header must not become a proxy).
import os
import urllib.request

print("Content-Type: text/plain")
print()
print("REQUEST_METHOD set:", "REQUEST_METHOD" in os.environ)
print("HTTP_PROXY:", os.environ.get("HTTP_PROXY"))
print("getproxies:", sorted(urllib.request.getproxies().items()))
