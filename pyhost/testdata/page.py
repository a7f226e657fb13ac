#!/usr/bin/python3
# A page as old CGI scripts write it: a print per line.
import os
print("Content-Type: text/html")
print()
print("<html><head><title>Report</title></head><body>")
print("<h1>Report for", os.environ.get("QUERY_STRING", ""), "</h1>")
print("<table>")
for i in range(40):
    print("<tr><td>row", i, "</td><td>", i * i, "</td></tr>")
print("</table>")
print("<p>caf\u00e9</p>")
print("</body></html>")
