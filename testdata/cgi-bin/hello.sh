#!/bin/sh
# A shell CGI script: warmcgi runs it as plain CGI, as Apache does.
echo "Content-Type: text/plain"
echo
echo "hello from sh, query=$QUERY_STRING"
