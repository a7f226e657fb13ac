# os.umask and posix.umask are process-wide: what one request sets, the
# next does not see (each finds the server's mask).
import os
import posix

setter = posix.umask if os.environ.get("QUERY_STRING") == "posix" else os.umask
old = setter(0o077)
print("Content-Type: text/plain")
print()
print("found %04o" % old)
