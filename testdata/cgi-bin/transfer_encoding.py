#!/usr/bin/python3
print("Content-Type: text/plain")
print("Transfer-Encoding: chunked")
print()
print("5\r\nhello\r\n0\r\n")
