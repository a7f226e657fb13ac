#!/usr/bin/python3
# A segfault in C code, before any output.
import ctypes
ctypes.string_at(0)
