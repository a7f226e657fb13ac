"""A small but real Django 3.2 project for the comparison harness: settings
with the usual middleware, a few URL routes, templates with inheritance and
a loop. No database (sessions in signed cookies)."""
