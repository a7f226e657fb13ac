#!/usr/bin/python3
# COMPAT 65: logging set up at the top of a script, every request.
import logging
import sys

print("Content-Type: text/plain")
print()
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="root %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("compat65")
log.addHandler(logging.StreamHandler(sys.stdout))
log.info("hello")
print("root handlers:", len(logging.root.handlers), "compat65 handlers:", len(log.handlers))
print("root level:", logging.getLevelName(logging.root.level))
sys.stdout.flush()
