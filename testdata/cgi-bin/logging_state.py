#!/usr/bin/python3
# Logging and hook state a script leaves behind: its own logger ("__main__",
# the same name in every script) and another one set to verbose levels,
# dictConfig disabling the loggers it was not given, and replaced
# sys.unraisablehook and sys.breakpointhook. A new process starts without
# any of it.
import logging
import logging.config
import sys

log = logging.getLogger(__name__)
app = logging.getLogger("app")
print("Content-Type: text/plain")
print()
print("__main__ level", log.level, "disabled", log.disabled)
print("app level", app.level, "disabled", app.disabled)
print("hooks default", sys.unraisablehook is sys.__unraisablehook__, sys.breakpointhook is sys.__breakpointhook__)
log.setLevel(logging.DEBUG)
app.setLevel(logging.INFO)
logging.config.dictConfig({"version": 1})
sys.unraisablehook = lambda unraisable: None
sys.breakpointhook = lambda *args, **kwargs: None
