#!/bin/sh
# A plain-CGI script reading its body from stdin.
echo "Content-Type: text/plain"
echo
echo "read $(wc -c | tr -d ' ') bytes, CONTENT_LENGTH=$CONTENT_LENGTH"
