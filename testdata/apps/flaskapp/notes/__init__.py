"""A small Flask application: templates, a route parameter, JSON, a form.

Works with Flask 2.2 (Debian 12) and 3.1 (Debian 13).
"""
from flask import Flask, jsonify, render_template, request

app = Flask(__name__)


@app.route("/")
def index():
    return render_template("index.html")


@app.route("/hello/<name>")
def hello(name):
    return render_template("hello.html", name=name)


@app.route("/api/square/<int:n>")
def square(n):
    return jsonify(n=n, square=n * n, path=request.path)


@app.route("/notes", methods=["GET", "POST"])
def notes():
    """The form (GET); POST echoes the note, escaped by the template."""
    if request.method == "POST":
        return render_template("note.html", title=request.form["title"], body=request.form["body"])
    return render_template("form.html")


@app.errorhandler(400)
def bad_request(e):
    """A form field missing (request.form[...] raises a KeyError)."""
    missing = e.args[0] if isinstance(e, KeyError) and e.args else "?"
    return "bad request: no field %s\n" % missing, 400, {"Content-Type": "text/plain; charset=utf-8"}


@app.errorhandler(404)
def not_found(e):
    return "no page at %s\n" % request.path, 404, {"Content-Type": "text/plain; charset=utf-8"}
