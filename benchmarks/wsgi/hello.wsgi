# A native WSGI hello world: the same response as testdata/cgi-bin/hello.py,
# served by mod_wsgi in embedded mode as the best a persistent Python
# application gets under Apache.
BODY = b"Hello, world!\n"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
