# Helper module of counter.py (not a script: not executable).
hits = 0
