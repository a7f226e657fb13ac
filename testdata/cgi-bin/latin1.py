#!/usr/bin/python3
# -*- coding: latin-1 -*-
print("Content-Type: text/plain; charset=utf-8")
print()
print("Café crème brûlée")
