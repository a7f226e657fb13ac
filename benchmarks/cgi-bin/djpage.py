#!/usr/bin/python3
# A page of a real Django project (benchmarks/apps/djbench) served as a CGI
# script with wsgiref's CGIHandler, as Django apps were deployed under CGI.
# The measured URL is djpage.py/items/ (a 100-row template loop).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "apps"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djbench.settings")

from wsgiref.handlers import CGIHandler  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402

CGIHandler().run(get_wsgi_application())
