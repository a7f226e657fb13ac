#!/usr/bin/python3
"""Follow the Dockerfile's runtime stage by hand in a clean Debian root.

The machines warmcgi is developed on have the docker client but no engine,
so the image cannot be built here. This script does the next best thing,
literally: it makes a fresh Debian bookworm root with debootstrap (the
runtime stage's base is debian:bookworm-slim), runs each RUN line of the
runtime stage in it with chroot, copies in what the COPY lines copy (the
binary comes from `make build` on this Debian 12 host, which is what the
build stage does in golang:*-bookworm), then starts the ENTRYPOINT + CMD as
the USER the Dockerfile names, on loopback, and checks that:

  * the binary finds its libpython and standard library inside the root;
  * an example script answers over HTTP;
  * the HEALTHCHECK command succeeds;
  * tini is the parent of the server (orphans are reaped).

Usage (as root, needs debootstrap and network access to deb.debian.org):
  make build && examples/verify-dockerfile.py [--base DIR] [--keep]

--base keeps a pristine debootstrap root in DIR between runs; each run works
on a fresh copy of it.
"""

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def logical_lines(path):
    """The Dockerfile's instructions, continuation lines joined."""
    out, cur = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.lstrip().startswith("#"):
                continue  # a comment inside a continued instruction
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            out.append((cur + line).strip())
            cur = ""
    return out


def runtime_stage(lines):
    """The instructions after the last FROM, split into (keyword, rest)."""
    last = max(i for i, l in enumerate(lines) if l.upper().startswith("FROM "))
    stage = []
    for l in lines[last:]:
        kw, _, rest = l.partition(" ")
        stage.append((kw.upper(), rest.strip()))
    return stage


def exec_form(rest):
    """ENTRYPOINT/CMD/HEALTHCHECK CMD in JSON (exec) form."""
    return json.loads(rest)


def user_env(root, user):
    """The environment Docker gives a container's process: PATH, HOME."""
    home = "/"
    with open(os.path.join(root, "etc", "passwd")) as f:
        for line in f:
            fields = line.split(":")
            if fields[0] == user:
                home = fields[5]
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", help="keep the pristine debootstrap root here, to copy on later runs")
    ap.add_argument("--keep", action="store_true", help="keep the root afterwards")
    ap.add_argument("--binary", default=os.path.join(REPO, "bin", "warmcgi"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("verify-dockerfile: run as root (debootstrap and chroot need it)")
    if not os.path.exists(args.binary):
        sys.exit(f"verify-dockerfile: {args.binary} missing; run `make build` first")

    stage = runtime_stage(logical_lines(os.path.join(REPO, "Dockerfile")))
    base = stage[0][1]
    if not base.startswith("debian:bookworm"):
        sys.exit(f"verify-dockerfile: runtime base is {base}; this script knows bookworm only")

    root = tempfile.mkdtemp(prefix="warmcgi-rootfs-")
    pristine = args.base or root
    if not os.path.exists(os.path.join(pristine, "usr", "bin", "apt-get")):
        print(f"== debootstrap bookworm into {pristine}", flush=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", pristine,
                        "http://deb.debian.org/debian"], check=True, stdout=subprocess.DEVNULL)
    if pristine != root:
        subprocess.run(["cp", "-a", pristine + "/.", root], check=True)
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf"))
    proc = os.path.join(root, "proc")
    subprocess.run(["mount", "-t", "proc", "proc", proc], check=True)
    server = None
    try:
        user, entry, cmd, health = "root", [], [], None
        for kw, rest in stage[1:]:
            if kw == "RUN":
                print(f"== RUN {rest[:100]}...", flush=True)
                subprocess.run(["chroot", root, "/bin/sh", "-c", rest], check=True,
                               stdout=subprocess.DEVNULL)
            elif kw == "COPY":
                words = shlex.split(rest)
                if words[0].startswith("--from="):
                    src, dst = args.binary, words[2]  # the build stage's output
                else:
                    src, dst = os.path.join(REPO, words[0]), words[1]
                target = os.path.join(root, dst.lstrip("/"))
                print(f"== COPY {src} -> {dst}", flush=True)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if os.path.isdir(src):
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.copytree(src, target, symlinks=True)
                else:
                    shutil.copy2(src, target)
            elif kw == "USER":
                user = rest
            elif kw == "ENTRYPOINT":
                entry = exec_form(rest)
            elif kw == "CMD":
                cmd = exec_form(rest)
            elif kw == "HEALTHCHECK":
                health = exec_form(rest[rest.index("CMD") + 3:].strip())
            elif kw in ("EXPOSE", "ENV", "WORKDIR", "LABEL", "STOPSIGNAL"):
                if kw in ("ENV", "WORKDIR"):
                    sys.exit(f"verify-dockerfile: {kw} is not followed by this script yet")
            else:
                sys.exit(f"verify-dockerfile: unknown instruction {kw}")

        # The container listens on 0.0.0.0:8080 (status on 9090); here it must stay on
        # loopback and on a free port, so only that one word changes.
        port, status_port = free_port(), free_port()

        def local(w):
            return w.replace("0.0.0.0:8080", f"127.0.0.1:{port}").replace("127.0.0.1:9090", f"127.0.0.1:{status_port}")
        argv = entry + [local(w) for w in cmd]
        print(f"== start as {user}: {' '.join(argv)}", flush=True)
        server = subprocess.Popen(["chroot", f"--userspec={user}:{user}", root] + argv, env=user_env(root, user),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}/cgi-bin/hello.py"
        body = None
        for _ in range(100):
            try:
                body = urllib.request.urlopen(url, timeout=2).read().decode()
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        if body is None:
            server.kill()
            sys.exit("verify-dockerfile: FAIL: the server never answered:\n" + server.stdout.read())
        print(f"== GET {url}: {body.strip()[:80]!r}", flush=True)

        if health:
            hc = [local(w) for w in health]
            r = subprocess.run(["chroot", f"--userspec={user}:{user}", root] + hc, env=user_env(root, user),
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"verify-dockerfile: FAIL: HEALTHCHECK exited {r.returncode}: {r.stderr}")
            print("== HEALTHCHECK ok", flush=True)

        # chroot execs the ENTRYPOINT, so the process started is tini
        # itself, with the server as its child: orphans get reaped.
        if entry and entry[0].endswith("tini"):
            comm = open(f"/proc/{server.pid}/comm").read().strip()
            kids = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
            if comm != "tini" or not kids:
                sys.exit(f"verify-dockerfile: FAIL: expected tini with the server as its child, found {comm} with {kids}")
            print(f"== tini (pid {server.pid}) runs the server (pid {kids[0]})", flush=True)
        print("== PASS: the runtime stage, followed by hand, serves the example scripts", flush=True)
    finally:
        if server and server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        subprocess.run(["umount", proc])
        if args.keep:
            print(f"== root kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
