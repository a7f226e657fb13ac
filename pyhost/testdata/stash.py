import sys, os
import stashhelper  # stores sys.stdout.buffer at import, like Mercurial
sys.stdout.write("Content-Type: text/plain\n\n")
sys.stdout.flush()
stashhelper.out.write(b"stashed " + os.environ["QUERY_STRING"].encode() + b"\n")
