#!/usr/bin/python3
# COMPAT 79: process-wide calls a CGI script may make about itself.
import os
import resource

print("Content-Type: text/plain")
print()
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
print("RLIMIT_NOFILE soft now:", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
start = os.nice(0)
print("nice raised by:", os.nice(1) - start)
