# Helper module of 064-mutable-default.py (not a script: not executable).
def remember(item, seen=[]):
    seen.append(item)
    return len(seen)


class Registry:
    items = []


loaded = []
loaded.append("once")
