#!/usr/bin/perl
# A Perl CGI script in the same cgi-bin as the Python ones.
print "Content-Type: text/plain\n\n";
print "hello from perl, method=$ENV{REQUEST_METHOD}\n";
