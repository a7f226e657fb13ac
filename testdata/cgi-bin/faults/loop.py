#!/usr/bin/python3
# Never ends: the server's --timeout must end the request.
while True:
    pass
