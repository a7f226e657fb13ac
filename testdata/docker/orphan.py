#!/usr/bin/env python3
"""Leaves an orphan behind: .ci/docker-test's check that tini reaps it.

A shell (waited for here) starts `sleep` in the background and exits, so the
sleep outlives both the shell and this request; its parent becomes the
container's PID 1. When it ends, only PID 1 can reap it: under tini it goes
away, with the server itself as PID 1 it stays a zombie. The response gives
the sleep's PID (in the container's PID namespace).
"""
import subprocess

seconds = 3
sh = subprocess.run(
    ["sh", "-c", "sleep %d </dev/null >/dev/null 2>&1 & echo $!" % seconds],
    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, check=True, text=True,
)
print("Content-Type: text/plain")
print()
print("orphan %s sleeps %d s" % (sh.stdout.strip(), seconds))
