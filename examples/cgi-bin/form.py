#!/usr/bin/python3
# A classic guestbook-style form: GET shows the form, POST shows what was sent.
import cgi
import html

form = cgi.FieldStorage()

print("Content-Type: text/html; charset=utf-8")
print()
print("<!DOCTYPE html>")
print("<html><head><title>warmcgi form demo</title></head><body>")
print("<h1>Sign the guestbook</h1>")
print('<form method="post" enctype="multipart/form-data">')
print('<p>Name: <input name="name"></p>')
print('<p>Message: <textarea name="message"></textarea></p>')
print('<p>Picture: <input type="file" name="picture"></p>')
print('<p><input type="submit" value="Send"></p>')
print("</form>")

if form.keys():
    print("<h2>You sent</h2><ul>")
    for name in sorted(form.keys()):
        item = form[name]
        if isinstance(item, list):
            item = item[0]
        if item.filename:
            size = len(item.file.read())
            value = "%s (%d bytes)" % (item.filename, size)
        else:
            value = item.value
        print("<li><b>%s</b>: %s</li>" % (html.escape(name), html.escape(value)))
    print("</ul>")
print("</body></html>")
