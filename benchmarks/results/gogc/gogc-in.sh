# inside the trixie bench root: subinterp hello.py -w 2 at -c 64, GOGC variants, alternating
set -u
make build >/dev/null 2>&1 || { echo build failed; exit 1; }
mkdir -p /tmp/p/cgi-bin && cp examples/cgi-bin/hello.py /tmp/p/cgi-bin/
run() {
  local g=$1
  env $g ./bin/warmcgi serve --allow-root --isolation ${MODE:-subinterp} -w 2 --log-level warn --listen 127.0.0.1:18090 /tmp/p/cgi-bin >/dev/null 2>&1 &
  local pid=$!
  sleep 1.2
  wrk -t2 -c${C:-64} -d1s http://127.0.0.1:18090/cgi-bin/hello.py >/dev/null
  local t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  local out=$(wrk -t2 -c${C:-64} -d5s --latency http://127.0.0.1:18090/cgi-bin/hello.py)
  local t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  local rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  local p50=$(echo "$out" | awk '$1=="50%"{print $2}') p90=$(echo "$out" | awk '$1=="90%"{print $2}') p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  echo "$g ${MODE:-subinterp} c${C:-64}: $rps req/s, cpu $(awk -v t=$((t1-t0)) -v r=$rps 'BEGIN{printf "%.1f", t*10000/(r*5)}') us/req, p50 $p50 p90 $p90 p99 $p99"
  kill $pid; wait $pid 2>/dev/null
}
for r in 1 2 3; do
  for g in GOGC=100 GOGC=400 GOGC=off; do run $g; done
done
