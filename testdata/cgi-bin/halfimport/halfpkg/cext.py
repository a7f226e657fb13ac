raise ImportError("halfpkg.cext: the C part of halfpkg cannot load here")
