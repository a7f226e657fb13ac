#!/usr/bin/python3
# Imports an installed module that starts a thread when imported
# (TestForkLearnedImportStartsThread installs it): a fork template must
# not import it, or it would fork with two threads.
import warmcgi_test_thread_at_import as m

print("Content-Type: text/plain")
print()
print("thread started:", m.started)
