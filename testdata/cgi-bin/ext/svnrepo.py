#!/usr/bin/env python3
# Reads a Subversion repository ($SVN_REPO) through Debian's SWIG-generated
# bindings (python3-subversion), whose C globals keep the objects of the
# first interpreter that loaded them.
import os

from svn import fs, repos

r = repos.open(os.environ["SVN_REPO"])
f = repos.fs(r)
rev = fs.youngest_rev(f)
root = fs.revision_root(f, rev)
entries = sorted(fs.dir_entries(root, "/"))
print("Content-Type: text/plain")
print()
print("svn youngest %d entries %s" % (rev, entries))
