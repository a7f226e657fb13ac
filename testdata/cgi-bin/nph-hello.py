#!/usr/bin/python3
import sys

sys.stdout.write("HTTP/1.1 200 OK\r\n")
sys.stdout.write("Content-Type: text/plain\r\n")
sys.stdout.write("X-Nph: yes\r\n")
sys.stdout.write("\r\n")
sys.stdout.write("hello from nph\n")
