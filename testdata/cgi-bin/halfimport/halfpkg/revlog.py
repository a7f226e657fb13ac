from halfpkg import cext  # fails as halfpkg does

FORMAT = cext.VERSION
