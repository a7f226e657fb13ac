#!/usr/bin/python3
# The Django project in ../djangosite served as CGI: its WSGI application
# run by wsgiref's CGIHandler, as a user without mod_wsgi deploys it.
import os
import sys
from wsgiref.handlers import CGIHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "djangosite"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangosite.settings")

from djangosite.wsgi import application  # noqa: E402

CGIHandler().run(application)
