#!/bin/bash
set -u
d=$(mktemp -d); cp testdata/cgi-bin/hello.py $d/
cat > $d/manymodules.py <<'PYEOF'
#!/usr/bin/python3
# imports a large set of modules (Django's ORM, admin, forms, templates, tests, plus the standard library)
import sys
import asyncio, email.mime.multipart, email.mime.text, http.server, json, logging.handlers
import sqlite3, unittest, urllib.request, xml.dom.minidom, xml.etree.ElementTree, zipfile
import argparse, csv, decimal, difflib, fractions, inspect, pydoc, statistics, tarfile
import django
from django.conf import settings
if not settings.configured:
    settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.admin", "django.contrib.sessions", "django.contrib.messages"], DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
import django.db.models, django.forms, django.template, django.test, django.views.generic, django.core.management
print("Content-Type: text/plain")
print()
print(len(sys.modules))
PYEOF
chmod 755 $d/*.py; echo "modules: $(python3 $d/manymodules.py | tail -1)"
(cd benchmarks/load && go build -o /root/load .)
port=18400
for r in 1 2 3; do
  for v in old new; do
    for cell in hello after; do
      port=$((port+1))
      /root/w-$v serve $d --listen 127.0.0.1:$port -w 2 --isolation subinterp --log-level warn --allow-root >/tmp/e2e-$v.log 2>&1 &
      pid=$!
      for _ in $(seq 50); do /root/load -c 1 -d 100ms http://127.0.0.1:$port/cgi-bin/hello.py >/dev/null 2>&1 && break; sleep 0.1; done
      if [ $cell = after ]; then /root/load -c 4 -d 1s http://127.0.0.1:$port/cgi-bin/manymodules.py | sed "s/^/  warm-up: /"; fi
      /root/load -c 8 -d 1s http://127.0.0.1:$port/cgi-bin/hello.py >/dev/null
      out=$(/root/load -c 8 -d 5s http://127.0.0.1:$port/cgi-bin/hello.py)
      echo "round $r $v $cell $out"
      kill $pid; wait $pid 2>/dev/null
    done
  done
done
