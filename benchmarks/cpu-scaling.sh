#!/usr/bin/env bash
# benchmarks/cpu-scaling.sh — issue "Performance" item 6: a CPU-bound script
# (benchmarks/cgi-bin/cpu5ms.py) with 2 workers against 1, in the default
# configuration (auto) and in subinterp and process mode, with this machine's
# python3 (run it in Debian 13's or sid's root with .ci/chroot-suite to
# measure 3.13 or 3.14). Load: benchmarks/load, 4 connections, DURATION
# seconds per cell after a 2 s warm-up; ROUNDS rounds, cells interleaved.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
export PATH="$PATH:/usr/local/go/bin"
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
cd "$repo"
make build >/dev/null
(cd benchmarks/load && go build -o "$repo/bin/load" .)
py=$(bin/warmcgi version 2>/dev/null | grep -i -m1 python || true)
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; $py"
port=18200
cell() { # MODE WORKERS -> requests/s
  local mode=$1 w=$2 args=() pid out
  [ "$mode" != auto ] && args=(--isolation "$mode")
  port=$((port + 1))
  bin/warmcgi serve benchmarks/cgi-bin --listen 127.0.0.1:$port -w "$w" "${args[@]}" --log-level warn --allow-root >/tmp/cpu-scaling-$port.log 2>&1 &
  pid=$!
  for _ in $(seq 50); do bin/load -c 1 -d 100ms "http://127.0.0.1:$port/cgi-bin/cpu5ms.py" >/dev/null 2>&1 && break; sleep 0.1; done
  bin/load -c 4 -d 2s "http://127.0.0.1:$port/cgi-bin/cpu5ms.py" >/dev/null
  out=$(bin/load -c 4 -d "${DURATION}s" "http://127.0.0.1:$port/cgi-bin/cpu5ms.py")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$out" | awk '{print $2}'
}
for r in $(seq "$ROUNDS"); do
  for mode in auto subinterp process; do
    one=$(cell "$mode" 1); two=$(cell "$mode" 2)
    echo "round $r $mode w1 $one w2 $two ratio $(awk -v a="$two" -v b="$one" 'BEGIN{printf "%.2f", a/b}')"
  done
done
