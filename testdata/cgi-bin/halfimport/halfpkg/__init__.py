# A package whose import fails half way, as Mercurial's does when a C
# extension is refused: it sets up lazy submodules (importlib.util's
# LazyLoader, as Mercurial's demandimport does), imports a helper, then
# touches a lazy module whose load raises. It leaves halfpkg.helper, the
# failed halfpkg.cext and the never-loaded halfpkg.revlog behind.
import importlib.util
import sys


def _lazy(name):
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


cext = _lazy("halfpkg.cext")
revlog = _lazy("halfpkg.revlog")
from . import helper  # noqa: E402

VERSION = cext.VERSION
