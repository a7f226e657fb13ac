#!/usr/bin/python3
# Imports a module whose import warns (in fork mode a sub-template learns
# it), then a helper whose import raises: the traceback in the error log
# must be python3's, without the import system's frames.
import sre_parse  # noqa: F401
import brokenhelper  # noqa: F401
