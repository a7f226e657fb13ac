# Opened once at import and meant to last while the module stays loaded.
import logging, os
imports = 1
log = open(os.path.join(os.environ["TMPDIR"], "keeplog.txt"), "a")
logger = logging.getLogger("keeplog")
logger.addHandler(logging.StreamHandler(log))
