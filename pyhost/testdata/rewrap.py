import io, sys, codecs, os
mode = os.environ["QUERY_STRING"]
if mode == "wrapper":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="latin-1")
elif mode == "codecs":
    sys.stdout = codecs.getwriter("utf-8")(sys.stdout.detach())
elif mode == "reconfigure":
    sys.stdout.reconfigure(encoding="latin-1")
print("Content-Type: text/plain\n")
print("mode", mode, "\u00e9")
