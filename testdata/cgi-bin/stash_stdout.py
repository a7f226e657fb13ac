#!/usr/bin/python3
import os

import stashmod

stashmod.write("Content-Type: text/plain\r\n\r\n")
stashmod.write("stashed stream, query %s\n" % os.environ.get("QUERY_STRING", ""))
