#!/usr/bin/python3
# The Flask application in ../flaskapp served as CGI: run by wsgiref's
# CGIHandler, as Flask's deployment docs describe for plain CGI.
import os
import sys
from wsgiref.handlers import CGIHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "flaskapp"))

from notes import app  # noqa: E402

CGIHandler().run(app)
