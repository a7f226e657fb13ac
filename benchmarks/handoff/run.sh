#!/usr/bin/env bash
# benchmarks/handoff/run.sh — the hand-off designs of issue 17 item 1 side by
# side with the real server, in interleaved rounds (the machine is shared:
# compare medians of one run, never across runs).
#
#   benchmarks/handoff/run.sh            # after `make build`
#   ROUNDS=5 WORKERS="1 2" DURATION=5s benchmarks/handoff/run.sh
#
# Design "attach" (b proper: a thread state per thread on the worker's
# interpreter) needs a pyhost that lets Exec run on any thread, which the
# product does not have; to measure it:
#   git apply benchmarks/handoff/attach.patch && ATTACH=1 benchmarks/handoff/run.sh
#   git checkout pyhost     # once the build step has run
# Another Python: PKG_CONFIG_PATH=<its lib/pkgconfig> DESIGNS="today loop static"
# (the "server" row is bin/warmcgi, built against the default Python).
#
# Prints CSV rows: design,workers,conns,requests,rps,cpu_us_per_req,
# allocs_per_req,bytes_per_req. The row "server" is bin/warmcgi serving
# testdata/cgi-bin/hello.py (subinterp), its CPU from /proc/PID/stat and no
# Go allocation count (-1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-1 2}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-8}
DESIGNS=${DESIGNS:-server today loop static}
ATTACH=${ATTACH:-0}                 # 1: also design "attach" (apply attach.patch to pyhost first)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
export CGO_LDFLAGS="-Wl,-rpath,$(pkg-config --variable=libdir python3-embed) ${CGO_LDFLAGS:-}"
tags=()
if [ "$ATTACH" = 1 ]; then tags=(-tags attach); DESIGNS="$DESIGNS attach"; fi
(cd "$here" && go build "${tags[@]}" -o "$bin/handoff" .)
cgi="$bin/cgi-bin"
mkdir -p "$cgi" && cp "$repo/testdata/cgi-bin/hello.py" "$cgi/"

server() { # WORKERS: bin/warmcgi on a free port, measured like the designs
  local w=$1 port pid t0 t1 out hz
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$repo/bin/warmcgi" serve "$cgi" --listen "127.0.0.1:$port" -w "$w" --isolation subinterp \
    --log-level warn --queue 128 --allow-root >"$bin/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -fso /dev/null "http://127.0.0.1:$port/cgi-bin/hello.py" && break; sleep 0.05; done
  kill -0 "$pid" || { cat "$bin/server.log" >&2; return 1; }
  wrk -t2 -c"$CONNS" -d1s "http://127.0.0.1:$port/cgi-bin/hello.py" >/dev/null
  hz=$(getconf CLK_TCK)
  t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/cgi-bin/hello.py")
  t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then echo "server: errors: $out" >&2; return 1; fi
  awk -v w="$w" -v c="$CONNS" -v t="$((t1 - t0))" -v hz="$hz" '
    /requests in/ { n = $1 } /^Requests\/sec/ { r = $2 }
    END { printf "server,%d,%d,%d,%.0f,%.1f,-1,-1\n", w, c, n, r, t / hz * 1e6 / n }' <<<"$out"
}

echo "round,design,workers,conns,requests,rps,cpu_us_per_req,allocs_per_req,bytes_per_req"
for round in $(seq "$ROUNDS"); do
  for w in $WORKERS; do
    for d in $DESIGNS; do
      if [ "$d" = server ]; then
        row=$(server "$w")
      else
        row=$("$bin/handoff" -design "$d" -w "$w" -c "$CONNS" -d "$DURATION" -script "$cgi/hello.py" 2>"$bin/err.log") ||
          { cat "$bin/err.log" >&2; exit 1; }
      fi
      echo "$round,$row"
    done
  done
done
