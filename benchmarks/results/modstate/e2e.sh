#!/bin/bash
# run inside a chroot-suite root, from /src: old/new warmcgi side by side
set -u
(cd benchmarks/load && go build -o /root/load .)
d=$(mktemp -d); cp testdata/cgi-bin/hello.py pyhost/testdata/manymodules.py $d/; chmod 755 $d/*.py
port=18400
for r in 1 2 3; do
  for v in old new; do
    for cell in hello after; do
      port=$((port+1))
      /root/w-$v serve $d --listen 127.0.0.1:$port -w 2 --isolation subinterp --log-level warn --allow-root >/tmp/e2e-$v.log 2>&1 &
      pid=$!
      for _ in $(seq 50); do /root/load -c 1 -d 100ms http://127.0.0.1:$port/cgi-bin/hello.py >/dev/null 2>&1 && break; sleep 0.1; done
      if [ $cell = after ]; then /root/load -c 4 -d 1s http://127.0.0.1:$port/cgi-bin/manymodules.py >/dev/null; fi
      /root/load -c 8 -d 1s http://127.0.0.1:$port/cgi-bin/hello.py >/dev/null
      out=$(/root/load -c 8 -d 5s http://127.0.0.1:$port/cgi-bin/hello.py)
      echo "round $r $v $cell $out"
      kill $pid; wait $pid 2>/dev/null
    done
  done
done
