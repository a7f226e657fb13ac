#!/usr/bin/python3
# COMPAT 65: a logging configuration a script installs (dictConfig: root
# handlers and formatters, a logger's propagate flag and filters, loggers
# it disables) is its own. Prints the tree it finds, then configures it.
import logging
import logging.config
import sys

print("Content-Type: text/plain")
print()
root = logging.getLogger()
app = logging.getLogger("compat65tree.app")
print("root: level %s, %d handlers, %d filters" % (logging.getLevelName(root.level), len(root.handlers), len(root.filters)))
print("app: level %s, propagate %s, disabled %s, %d handlers, %d filters"
      % (logging.getLevelName(app.level), app.propagate, app.disabled, len(app.handlers), len(app.filters)))
print("other disabled:", logging.getLogger("compat65tree.other").disabled)
sys.stdout.flush()
logging.config.dictConfig({
    "version": 1,
    "disable_existing_loggers": True,
    "formatters": {"tagged": {"format": "TAGGED %(name)s %(message)s"}},
    "filters": {"only": {"name": "compat65tree"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "tagged"}},
    "root": {"level": "DEBUG", "handlers": ["out"]},
    "loggers": {"compat65tree.app": {"level": "INFO", "propagate": False, "handlers": ["out"], "filters": ["only"]}},
})
app.info("configured")
logging.getLogger("compat65tree.other").warning("disabled: not shown")
