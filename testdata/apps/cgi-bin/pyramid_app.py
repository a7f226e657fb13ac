#!/usr/bin/python3
# The Pyramid application in ../pyrsite served as CGI through wsgiref's
# CGIHandler: a new Configurator, route table and scan on every request.
import os
import sys
from wsgiref.handlers import CGIHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pyrsite"))

from pyrnotes import main  # noqa: E402

CGIHandler().run(main())
