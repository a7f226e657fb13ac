#!/usr/bin/python3
# The Django project in ../djadmin (its admin, two related models, a
# middleware importing them) served as CGI through wsgiref's CGIHandler.
import os
import sys
from wsgiref.handlers import CGIHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "djadmin"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

CGIHandler().run(get_wsgi_application())
