# -*- coding: latin-1 -*-
print("Content-Type: text/plain\n")
print("café")
