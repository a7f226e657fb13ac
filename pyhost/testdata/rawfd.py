import os, sys
os.write(1, b"Content-Type: text/plain\n\n")
os.write(sys.stdout.fileno(), b"raw write\n")
with open(1, "w", closefd=False) as f:
    f.write("via open(1)\n")
print("body:", os.read(0, 100))
os.closerange(3, 3)
# Mercurial's hook redirection: fd 1 to stderr, then back.
saved = os.dup(1)
os.dup2(2, 1)
print("to stderr while redirected")
os.write(1, b"raw to stderr\n")
os.dup2(saved, 1)
os.close(saved)
print("back on stdout")
# A file dup2-ed onto fd 1 gets what the request writes there.
path = os.path.join(os.environ["TMPDIR"], "rawfd-%s.out" % os.getpid())
f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
saved = os.dup(1)
os.dup2(f, 1)
print("into the file")
sys.stdout.flush()
os.dup2(saved, 1)
os.close(f)
print("file got:", open(path).read().strip())
os.remove(path)
os.close(1)
try:
    print("after close")
except ValueError:
    pass
