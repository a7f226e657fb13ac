#!/usr/bin/python3
# A typical form handler: cgi.FieldStorage parses a urlencoded POST (or the
# query string of a GET), validates a few fields and answers with an HTML page
# that echoes them, escaped.
import cgi
import html
import os

form = cgi.FieldStorage()
name = form.getfirst("name", "")
email = form.getfirst("email", "")
topics = form.getlist("topic")
comment = form.getfirst("comment", "")

errors = []
if not name:
    errors.append("name is required")
if "@" not in email:
    errors.append("email looks wrong")

print("Content-Type: text/html; charset=utf-8")
print()
print("<!DOCTYPE html>")
print("<html><head><title>Thank you</title></head><body>")
if errors:
    print("<ul class=errors>")
    for e in errors:
        print("<li>%s</li>" % html.escape(e))
    print("</ul>")
print("<p>Method: %s</p>" % html.escape(os.environ.get("REQUEST_METHOD", "")))
print("<dl>")
print("<dt>Name</dt><dd>%s</dd>" % html.escape(name))
print("<dt>Email</dt><dd>%s</dd>" % html.escape(email))
print("<dt>Topics</dt><dd>%s</dd>" % html.escape(", ".join(topics)))
print("<dt>Comment</dt><dd>%s</dd>" % html.escape(comment))
print("</dl>")
print("<p>%d fields received.</p>" % len(form.keys()))
print("</body></html>")
