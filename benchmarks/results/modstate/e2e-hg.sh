#!/bin/bash
# hgweb pages, old vs new warmcgi, default isolation (auto), inside a chroot-suite root
set -u
(cd benchmarks/load && go build -o /root/load .)
d=$(mktemp -d); mkdir -p $d/cgi-bin $d/repo
cd $d/repo && hg init -q && cp /src/testdata/cgi-bin/hello.py shapes.py && for i in 1 2 3; do echo "# $i" >> shapes.py; hg add -q shapes.py 2>/dev/null; hg commit -q -u bench -m "change $i"; done; cd /src
printf '[paths]\nrepo = %s/repo\n' $d > $d/hgweb.config
sed "s|^config = .*|config = b\"$d/hgweb.config\"|" /usr/share/doc/mercurial-common/examples/hgweb.cgi > $d/cgi-bin/hgweb.cgi; chmod 755 $d/cgi-bin/hgweb.cgi
grep -n "^config" $d/cgi-bin/hgweb.cgi
url=cgi-bin/hgweb.cgi/repo/file/tip/shapes.py
port=18600
for r in 1 2 3; do
  for v in old new; do
    port=$((port+1))
    /root/w-$v serve $d/cgi-bin --listen 127.0.0.1:$port -w 2 --log-level warn --allow-root >/tmp/hg-$v.log 2>&1 &
    pid=$!
    for _ in $(seq 50); do /root/load -c 1 -d 100ms http://127.0.0.1:$port/$url >/dev/null 2>&1 && break; sleep 0.1; done
    /root/load -c 8 -d 2s http://127.0.0.1:$port/$url >/dev/null
    out=$(/root/load -c 8 -d 5s http://127.0.0.1:$port/$url)
    echo "round $r $v hgweb $out"
    kill $pid; wait $pid 2>/dev/null
  done
done
tail -3 /tmp/hg-new.log
