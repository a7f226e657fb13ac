# A helper whose import fails (importtb.py).
RATIO = 1 / 0
