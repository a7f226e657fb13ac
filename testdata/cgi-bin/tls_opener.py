#!/usr/bin/python3
# Network settings scripts change to reach a server: ssl's default HTTPS
# context swapped for one that checks no certificate (a common recipe),
# and a global urllib opener with a proxy. A new process starts with
# neither; the next script must not inherit them. Nothing is fetched.
import ssl
import urllib.request

print("Content-Type: text/plain")
print()
print("https context checks certificates", ssl._create_default_https_context is ssl.create_default_context)
print("urllib opener installed", urllib.request._opener is not None)
ssl._create_default_https_context = ssl._create_unverified_context
urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://proxy.invalid:3128"})))
