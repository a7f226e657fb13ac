"""A Pyramid application with SQLAlchemy declarative models (issue 15,
item 1's second registry-style framework): its views are found by
Pyramid's config.scan (venusian imports the project's modules from
library code), its models live in a declarative registry. Works with
Pyramid 2.0 / SQLAlchemy 1.4 (Debian 12) and Debian 13's releases.
The database is $NOTES_DB."""
from pyramid.config import Configurator


def main():
    config = Configurator()
    config.add_route("home", "/")
    config.add_route("note", "/note/{id}")
    config.add_route("add", "/add")
    config.add_route("delete", "/delete/{id}")
    config.scan("pyrnotes.views")
    return config.make_wsgi_app()
