#!/usr/bin/python3
# Whether xml.dom.minidom was imported before this script ran (--preload).
import sys

print("Content-Type: text/plain")
print()
print("preloaded", "xml.dom.minidom" in sys.modules)
