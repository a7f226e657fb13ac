#!/usr/bin/python3
# A header value carrying a bare CR and an attempt at a second header.
import sys

sys.stdout.write("Content-Type: text/plain\n")
sys.stdout.write("X-Injected: a\rSet-Cookie: evil=1\r\n")
sys.stdout.write("X-After: b\r\rLocation: http://evil.example/\n")
sys.stdout.write("\n")
sys.stdout.write("body\n")
