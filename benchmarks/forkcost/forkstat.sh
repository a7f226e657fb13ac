#!/bin/bash
# forkstat.sh BINARY CGIDIR PORT TAG: CPU and page faults per request of a
# --isolation fork server's template and everything it forks (perf stat
# -p, inherited by children forked after it attaches), serial curl:
#   hello-small      hello.py, the template as started
#   hello-djlearned  hello.py after 6 djpage.py requests taught the
#                    template Django's modules
#   django           djpage.py/items/
# CGIDIR: a cgi-bin as run.sh makes it (KEEP_TMP=1 keeps one), with
# hello.py and djpage.py and ../apps. Needs perf; run as root.
set -u
bin=$1 cgi=$2 port=$3 tag=$4
out=${OUT:-/tmp}
setsid "$bin" serve "$cgi" --listen 127.0.0.1:$port -w 2 --isolation fork --allow-root --log-level warn >"$out/$tag.log" 2>&1 &
spid=$!
sleep 3
tp=$(pgrep -P $spid -f fork-template | head -1)
u=http://127.0.0.1:$port/cgi-bin
serial() { for _ in $(seq "$1"); do curl -s -o /dev/null "$2"; done; }
stat() { # NAME N URL
  perf stat -x, -e task-clock,page-faults,context-switches -p "$tp" -o "$out/$tag-$1.perf" -- \
    bash -c "for _ in \$(seq $2); do curl -s -o /dev/null '$3'; done"
  awk -F, -v n="$2" -v name="$tag $1" '$3=="task-clock"{c=$1} $3=="page-faults"{f=$1}
    END{printf "%-28s %7.1f ms CPU/req %6.0f faults/req\n", name, c/n, f/n}' "$out/$tag-$1.perf"
}
serial 5 "$u/hello.py"
stat hello-small 100 "$u/hello.py"
grep VmRSS "/proc/$tp/status"
serial 6 "$u/djpage.py/items/"
sleep 2
tp=$(pgrep -P $spid -f fork-template | head -1)
grep VmRSS "/proc/$tp/status"
stat hello-djlearned 100 "$u/hello.py"
stat django 20 "$u/djpage.py/items/"
kill -TERM -- -$spid
wait $spid 2>/dev/null
