import os, sys
print("Content-Type: text/plain\n")
code = os.environ["QUERY_STRING"]
if code == "none":
    sys.exit()
elif code == "msg":
    sys.exit("bye message")
sys.exit(int(code))
