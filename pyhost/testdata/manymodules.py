#!/usr/bin/python3
# A script that has a large part of the standard library loaded (about as
# many modules as a web framework brings), for BenchmarkExec: the cost of
# watching loaded modules grows with their number.
import asyncio, email.mime.multipart, email.mime.text, http.server, json, logging.handlers
import sqlite3, unittest, urllib.request, xml.dom.minidom, xml.etree.ElementTree, zipfile
import argparse, csv, decimal, difflib, fractions, inspect, pydoc, statistics, tarfile

print("Content-Type: text/plain")
print()
print("hello")
