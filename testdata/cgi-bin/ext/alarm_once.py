#!/usr/bin/env python3
# A script that sets a SIGALRM handler (a need seen only when it runs) and
# then does something with an effect outside the process (a line appended
# to $MARK). Under CGI each request appends one line; --isolation auto must
# not append two for the request that shows the need (once in a
# sub-interpreter, once again in fork mode): the script is stopped where it
# sets the handler.
import os
import signal

signal.signal(signal.SIGALRM, lambda signum, frame: None)
with open(os.environ["MARK"], "a") as f:
    f.write("%d\n" % os.getpid())
print("Content-Type: text/plain")
print()
print("marked")
