#!/usr/bin/python3
# Imports a submodule whose import warns with `from package import sub`
# (the package, warmcgi_test_pkg, is installed by TestImportWarningsFromImport):
# each CGI process warns, at this line, so every request must.
from warmcgi_test_pkg import old

print("Content-Type: text/plain")
print()
print(old.OLD)
