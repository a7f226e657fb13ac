#!/usr/bin/env bash
# benchmarks/run.sh — warmcgi side by side with Apache mod_cgi, nginx+fcgiwrap,
# mod_wsgi (embedded, native WSGI) and a Go net/http handler, all on 127.0.0.1
# of this machine, in one run. See benchmarks/README.md for the method.
#
#   make bench-compare              # builds bin/warmcgi, then runs this
#   ROUNDS=5 benchmarks/run.sh      # knobs: see "Knobs" below
#
# Writes benchmarks/results/<date>-<python>.{csv,md,svg} and prints the table.
# Every server listens on 127.0.0.1 only, on a port of its own, with its own
# configuration under a temporary directory; a trap stops them all.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
export LC_ALL=C

# --- Knobs (environment) ---------------------------------------------------
WARMCGI=${WARMCGI:-$repo/bin/warmcgi}       # the binary under test
MODES=${MODES:-subinterp}                   # isolation modes to measure, e.g. "subinterp auto fork"
WORKERS=${WORKERS:-$(nproc)}                # warmcgi -w for the main cells
ROUNDS=${ROUNDS:-3}                         # measured rounds; medians are over these
DURATION=${DURATION:-5}                     # seconds of wrk per measured cell
DJANGO_DURATION=${DJANGO_DURATION:-20}      # the same for the django set (a CGI Django page is ~0.5 s of CPU)
WARMUP=${WARMUP:-1}                         # seconds of wrk before each measured cell (discarded); 0 also skips the warm-up round
THREADS=${THREADS:-2}                       # wrk -t
CONNS=${CONNS:-8}                           # wrk -c for the throughput cells
LAT_CONNS=${LAT_CONNS:-64}                  # wrk -c for the latency cells
SETS=${SETS:-hello form cpu out1mb hgweb django latency}  # comparison sets to run (see "The cells" in main)
MEM_WORKERS=${MEM_WORKERS-1 2 8 32}         # worker counts of the memory measurement; empty: none
FCGI_CHILDREN=${FCGI_CHILDREN:-$CONNS}      # fcgiwrap -c
WSGI_MPM=${WSGI_MPM:-prefork}               # MPM of the mod_wsgi Apache: prefork or event
RESULTS=${RESULTS:-$here/results}           # where the .csv, .md and .svg go
KEEP_TMP=${KEEP_TMP:-0}                     # 1: keep the temporary directory (configs, logs)

readonly sys_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly form_body='name=Ada+Lovelace&email=ada%40example.org&topic=cgi&topic=wsgi&topic=go&comment=Hello+from+the+benchmark%21+%3Cb%3Enot+bold%3C%2Fb%3E&subscribe=on'
readonly hg_file=src/shapes.py
readonly hg_marker=warmcgi-bench-marker
readonly dj_marker=warmcgi-bench-django

log() { printf '%s run.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- Debian packages ---------------------------------------------------------
install_deps() {
  local need=() pkg
  for pkg in apache2 libapache2-mod-wsgi-py3 nginx fcgiwrap wrk mercurial python3-django curl python3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  [ "${#need[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "missing packages; run: sudo apt-get install -y ${need[*]}"
  fi
  log "installing ${need[*]}"
  # Keep Debian from starting the system apache2 and nginx services on port
  # 80: every server here is started by this script with its own config.
  local policy_made=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_made=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" || rc=$?
  [ "$policy_made" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install failed ($rc)"
}

# --- Processes ---------------------------------------------------------------
# Every server runs in a session (and so a process group) of its own, whose
# id is the pid we started; pgids[NAME] lists the groups of one server.
declare -A pgids=() urls=()
all_groups=()

cleanup() {
  local rc=$? g
  trap - EXIT INT TERM
  for g in "${all_groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for g in "${all_groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for g in "${all_groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  remove_cgroups
  if [ -n "${tmp:-}" ] && [ -d "$tmp" ]; then
    if [ "$KEEP_TMP" = 1 ] || [ "$rc" != 0 ]; then
      log "kept $tmp (configs and logs)"
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$rc"
}

# CPU accounting of each server. Where a cgroup v1 cpuacct hierarchy is
# mounted on its own (accounting only: no scheduling or limits change) and
# writable, every server runs in a child cgroup of ours, which counts every
# process it ever forks. Otherwise the CPU of a server is summed over its
# process group from /proc, which misses the CGI children that a server does
# not wait for (fcgiwrap ignores SIGCHLD): see "CPU server" in the README.
cg_base=""
setup_cgroups() {
  local mnt own
  mnt=$(awk '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) { if (o[i] == "cpu") cpu = 1; if (o[i] == "cpuacct") acct = 1 }
               if (acct && !cpu) { print $2; exit } cpu = acct = 0 }' /proc/mounts)
  [ -n "$mnt" ] || return 0
  own=$(awk -F: '$2 == "cpuacct" { print $3; exit }' /proc/self/cgroup)
  [ -n "$own" ] || return 0
  if mkdir "$mnt${own%/}/warmcgi-bench.$$" 2>/dev/null; then
    cg_base=$mnt${own%/}/warmcgi-bench.$$
  fi
}

remove_cgroups() {
  [ -n "$cg_base" ] && [ -d "$cg_base" ] || return 0
  local d
  for _ in $(seq 20); do
    for d in "$cg_base"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
    rmdir "$cg_base" 2>/dev/null && return 0
    sleep 0.1
  done
  log "could not remove $cg_base"
}

# start NAME LOGFILE CMD...: run CMD in a new session with a clean
# environment (and in NAME's cgroup); its pid is the pgid of everything it
# forks.
start() {
  local name=$1 logf=$2; shift 2
  local pre=()
  if [ -n "$cg_base" ]; then
    mkdir -p "$cg_base/$name"
    # shellcheck disable=SC2016 # expanded by that sh, not this one
    pre=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg_base/$name")
  fi
  env -i PATH="$sys_path" HOME=/nonexistent LANG=C setsid "${pre[@]}" "$@" >"$logf" 2>&1 </dev/null &
  local pid=$!
  all_groups+=("$pid")
  pgids[$name]="${pgids[$name]:-} $pid"
}

stop() {
  local name=$1 g
  for g in ${pgids[$name]}; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for g in ${pgids[$name]}; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for g in ${pgids[$name]}; do kill -KILL -- "-$g" 2>/dev/null || true; done
  unset "pgids[$name]"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ready NAME URL LOGFILE: poll URL until it answers, the server dies or
# 30 seconds pass.
wait_ready() {
  local name=$1 url=$2 logf=$3 deadline=$((SECONDS + 30)) g
  while :; do
    if curl -s -o /dev/null --max-time 2 "$url"; then return 0; fi
    for g in ${pgids[$name]}; do
      kill -0 -- "-$g" 2>/dev/null || { cat "$logf" >&2; die "$name exited before answering on $url"; }
    done
    [ "$SECONDS" -lt "$deadline" ] || { cat "$logf" >&2; die "$name did not answer on $url within 30s"; }
    sleep 0.1
  done
}

# CPU seconds used so far by server NAME: its cgroup's counter, or the
# processes of its process groups and the children they have reaped.
server_cpu() {
  if [ -n "$cg_base" ]; then
    awk '{ printf "%.3f\n", $1 / 1e9 }' "$cg_base/$1/cpuacct.usage"
    return
  fi
  local groups=" ${pgids[$1]} "
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v groups="$groups" -v hz="$(getconf CLK_TCK)" '
    { sub(/^.*\) /, ""); if (index(groups, " " $3 " ")) t += $12 + $13 + $14 + $15 }
    END { printf "%.3f\n", t / hz }'
}

# Busy and total clock ticks of all CPUs.
cpu_ticks() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit }' /proc/stat
}

# --- Servers -----------------------------------------------------------------
warmcgi_flags=()
warmcgi_help=""

start_warmcgi() { # NAME MODE WORKERS
  local name=$1 mode=$2 workers=$3 port args=()
  port=$(free_port)
  args=(serve "$cgi" --listen "127.0.0.1:$port" -w "$workers")
  if grep -q -- '--isolation' <<<"$warmcgi_help"; then
    args+=(--isolation "$mode")
  elif [ "$mode" != subinterp ]; then
    die "this warmcgi has no --isolation flag; it cannot run mode $mode"
  fi
  # No server in this comparison writes an access log.
  if grep -q -- '--log-level' <<<"$warmcgi_help"; then
    args+=(--log-level warn)
  fi
  # Room for every connection of the latency cell, so it measures queueing
  # rather than load shedding (503).
  if grep -q -- '--queue ' <<<"$warmcgi_help"; then
    args+=(--queue $((LAT_CONNS * 2)))
  fi
  start "$name" "$tmp/$name.log" "$WARMCGI" "${args[@]}" "${warmcgi_flags[@]}"
  urls[$name]="http://127.0.0.1:$port"
  wait_ready "$name" "${urls[$name]}/cgi-bin/hello.py" "$tmp/$name.log"
}

# apache_conf DIR PORT MPM: the part of an httpd.conf both Apache instances
# share; the caller appends its handler.
apache_conf() {
  local dir=$1 port=$2 mpm=$3 mod
  mkdir -p "$dir/run" "$dir/htdocs"
  {
    echo "ServerRoot \"$dir\""
    echo "DefaultRuntimeDir \"$dir/run\""
    echo "PidFile \"$dir/run/httpd.pid\""
    echo "Listen 127.0.0.1:$port"
    for mod in "mpm_$mpm" authz_core mime alias env; do
      echo "LoadModule ${mod}_module /usr/lib/apache2/modules/mod_$mod.so"
    done
    if [ "$(id -u)" = 0 ]; then echo "User www-data"; echo "Group www-data"; fi
    echo "ServerName 127.0.0.1"
    echo "ServerSignature Off"
    echo "ServerTokens Prod"
    echo "ErrorLog \"$dir/error.log\""
    echo "LogLevel warn"
    echo "TypesConfig /etc/mime.types"
    echo "KeepAlive On"
    echo "MaxKeepAliveRequests 0"
    echo "KeepAliveTimeout 5"
    if [ "$mpm" = prefork ]; then
      # Enough processes for every connection of the latency cell.
      echo "StartServers 8"
      echo "MinSpareServers 8"
      echo "MaxSpareServers 32"
      echo "ServerLimit $((LAT_CONNS * 2))"
      echo "MaxRequestWorkers $((LAT_CONNS * 2))"
    else
      echo "StartServers 2"
      echo "ThreadsPerChild 64"
      echo "ServerLimit 4"
      echo "MaxRequestWorkers 256"
    fi
    echo "MaxConnectionsPerChild 0"
    echo "<Directory />"
    echo "  AllowOverride None"
    echo "  Require all denied"
    echo "</Directory>"
    echo "DocumentRoot \"$dir/htdocs\""
  } >"$dir/httpd.conf"
}

start_apache_cgi() {
  local name=apache-cgi dir=$tmp/apache-cgi port
  port=$(free_port)
  # prefork + mod_cgi (not event + mod_cgid): the classic CGI server, the
  # same as the differential test's reference (cmd/warmcgi/harness_test.go).
  apache_conf "$dir" "$port" prefork
  {
    echo "LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so"
    echo "CGIScriptTimeout 60"
    echo "ScriptAlias /cgi-bin/ \"$cgi/\""
    echo "<Directory \"$cgi\">"
    echo "  Require all granted"
    echo "</Directory>"
  } >>"$dir/httpd.conf"
  start "$name" "$dir/out.log" /usr/sbin/apache2 -f "$dir/httpd.conf" -DFOREGROUND
  urls[$name]="http://127.0.0.1:$port"
  wait_ready "$name" "${urls[$name]}/cgi-bin/hello.py" "$dir/out.log"
}

start_apache_wsgi() {
  local name=apache-wsgi dir=$tmp/apache-wsgi port
  port=$(free_port)
  apache_conf "$dir" "$port" "$WSGI_MPM"
  {
    echo "LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so"
    # Embedded mode (no WSGIDaemonProcess), in the main interpreter of each
    # Apache child: mod_wsgi's fastest configuration.
    echo "WSGIRestrictEmbedded Off"
    echo "WSGIApplicationGroup %{GLOBAL}"
    echo "WSGIScriptAlias /wsgi/hello \"$tmp/wsgi/hello.wsgi\""
    # The same Django project as cgi-bin/djpage.py, loaded once per child.
    echo "WSGIScriptAlias /wsgi/django \"$tmp/wsgi/django.wsgi\""
    echo "<Directory \"$tmp/wsgi\">"
    echo "  Require all granted"
    echo "</Directory>"
  } >>"$dir/httpd.conf"
  start "$name" "$dir/out.log" /usr/sbin/apache2 -f "$dir/httpd.conf" -DFOREGROUND
  urls[$name]="http://127.0.0.1:$port"
  wait_ready "$name" "${urls[$name]}/wsgi/hello" "$dir/out.log"
}

start_nginx_fcgiwrap() {
  local name=nginx-fcgiwrap dir=$tmp/nginx port user=() nginx_user=""
  port=$(free_port)
  mkdir -p "$dir/run"
  if [ "$(id -u)" = 0 ]; then
    chown www-data:www-data "$dir/run"
    user=(setpriv --reuid=www-data --regid=www-data --init-groups)
    nginx_user="user www-data;"
  fi
  start "$name" "$dir/fcgiwrap.log" "${user[@]}" /usr/sbin/fcgiwrap -c "$FCGI_CHILDREN" -s "unix:$dir/run/fcgiwrap.sock"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $(nproc);
$nginx_user
pid $dir/run/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $dir/tmp-body;
  fastcgi_temp_path $dir/tmp-fastcgi;
  proxy_temp_path $dir/tmp-proxy;
  uwsgi_temp_path $dir/tmp-uwsgi;
  scgi_temp_path $dir/tmp-scgi;
  server {
    listen 127.0.0.1:$port;
    server_name 127.0.0.1;
    location ~ ^/cgi-bin/([^/]+)(/.*)?\$ {
      fastcgi_pass unix:$dir/run/fcgiwrap.sock;
      fastcgi_param GATEWAY_INTERFACE CGI/1.1;
      fastcgi_param SERVER_SOFTWARE nginx;
      fastcgi_param SERVER_PROTOCOL \$server_protocol;
      fastcgi_param SERVER_NAME \$server_name;
      fastcgi_param SERVER_ADDR \$server_addr;
      fastcgi_param SERVER_PORT \$server_port;
      fastcgi_param REMOTE_ADDR \$remote_addr;
      fastcgi_param REMOTE_PORT \$remote_port;
      fastcgi_param REQUEST_METHOD \$request_method;
      fastcgi_param REQUEST_URI \$request_uri;
      fastcgi_param QUERY_STRING \$query_string;
      fastcgi_param CONTENT_TYPE \$content_type;
      fastcgi_param CONTENT_LENGTH \$content_length;
      fastcgi_param DOCUMENT_ROOT $cgi;
      fastcgi_param SCRIPT_NAME /cgi-bin/\$1;
      fastcgi_param SCRIPT_FILENAME $cgi/\$1;
      fastcgi_param PATH_INFO \$2;
    }
  }
}
EOF
  start "$name" "$dir/nginx.log" /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf"
  urls[$name]="http://127.0.0.1:$port"
  wait_ready "$name" "${urls[$name]}/cgi-bin/hello.py" "$dir/nginx.log"
}

start_go_static() {
  local name=go-static port
  port=$(free_port)
  start "$name" "$tmp/go-static.log" "$tmp/static" -listen "127.0.0.1:$port"
  urls[$name]="http://127.0.0.1:$port"
  wait_ready "$name" "${urls[$name]}/hello" "$tmp/go-static.log"
}

# --- What each cell requests -------------------------------------------------
# path SERVER SCRIPT: the URL path of SCRIPT on SERVER.
path() {
  case "$1:$2" in
    apache-wsgi:hello) echo /wsgi/hello ;;
    go-static:hello) echo /hello ;;
    *:hgweb) echo "/cgi-bin/hgweb.cgi/file/tip/$hg_file" ;;
    apache-wsgi:djpage) echo /wsgi/django/items/ ;;
    *:djpage) echo /cgi-bin/djpage.py/items/ ;;
    *) echo "/cgi-bin/$2.py" ;;
  esac
}

# verify SERVER SCRIPT: one request must give 200 and the script's real
# output; a benchmark of an error page is worthless.
verify() {
  local server=$1 script=$2 target body=() out status
  target=$(url "$server" "$script")
  if [ "$script" = formpost ]; then body=(--data "$form_body"); fi
  out=$tmp/verify.out
  status=$(curl -s -o "$out" -w '%{http_code}' --max-time 60 "${body[@]}" "$target") || status=curl-failed
  local ok=1
  case "$script" in
    hello) [ "$(cat "$out")" = "Hello, world!" ] || ok=0 ;;
    formpost) grep -q '<dt>Name</dt><dd>Ada Lovelace</dd>' "$out" || ok=0 ;;
    cpu5ms) grep -q '^rounds=100000 result=933429$' "$out" || ok=0 ;;
    out1mb) [ "$(stat -c %s "$out")" = 1048576 ] || ok=0 ;;
    hgweb) grep -q "$hg_marker" "$out" || ok=0 ;;
    djpage) { grep -q "$dj_marker" "$out" && grep -q '/items/99/">100</a>' "$out"; } || ok=0 ;;
  esac
  if [ "$status" != 200 ] || [ "$ok" != 1 ]; then
    head -c 2000 "$out" >&2 || true
    die "$server $script: $target answered $status with unexpected content (logs in $tmp)"
  fi
}

# url SERVER SCRIPT: the full URL of SCRIPT on SERVER.
url() {
  echo "${urls[$1]}$(path "$1" "$2")"
}

# run_wrk SERVER SCRIPT CONNS SECONDS [WRK FLAGS...]: wrk on one cell, its
# report on stdout (POSTing the form body for the form script).
run_wrk() {
  local server=$1 script=$2 conns=$3 secs=$4 threads=$THREADS env=() target
  shift 4
  target=$(url "$server" "$script")
  if [ "$script" = formpost ]; then env=(WRK_BODY="$form_body"); fi
  if [ "$threads" -gt "$conns" ]; then threads=$conns; fi
  env "${env[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 30s "$@" -s "$here/wrk/report.lua" "$target"
}

# prime SERVER SCRIPT: CONNS concurrent requests, waited for.
prime() {
  local target body=() i
  target=$(url "$1" "$2")
  if [ "$2" = formpost ]; then body=(--data "$form_body"); fi
  for i in $(seq "$CONNS"); do
    curl -s -o /dev/null --max-time 120 "${body[@]}" "$target" &
  done
  wait_jobs
}

raw_header='round,set,script,server,workers,conns,duration_s,requests,rps,p50_us,p90_us,p99_us,max_us,non2xx,socket_errors,cpu_server_s,cpu_wrk_s,cpu_busy_s,cpu_total_s'

# measure ROUND SET SERVER SCRIPT CONNS: warm up, then one wrk run; appends
# one row to raw.csv.
measure() {
  local round=$1 set=$2 server=$3 script=$4 conns=$5
  if [ "$WARMUP" != 0 ]; then
    run_wrk "$server" "$script" "$conns" "$WARMUP" >/dev/null
  fi
  local s0 c0 s1 c1 wrk_cpu out=$tmp/wrk.out secs=$DURATION
  if [ "$set" = django ]; then secs=$DJANGO_DURATION; fi
  s0=$(server_cpu "$server"); c0=$(cpu_ticks)
  local TIMEFORMAT='%U %S'
  { time run_wrk "$server" "$script" "$conns" "$secs" --latency >"$out"; } 2>"$tmp/wrk.time"
  s1=$(server_cpu "$server"); c1=$(cpu_ticks)
  wrk_cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$tmp/wrk.time")
  local line
  line=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "wrk gave no result for $server $script"; }
  local -A r=()
  local kv
  for kv in ${line#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
  local hz workers=""
  hz=$(getconf CLK_TCK)
  case "$server" in
    warmcgi-*-w1) workers=1 ;;
    warmcgi-*) workers=$WORKERS ;;
  esac
  local b0 t0 b1 t1
  read -r b0 t0 <<<"$c0"; read -r b1 t1 <<<"$c1"
  printf '%s,%s,%s,%s,%s,%s,%.3f,%s,%s,%s,%s,%s,%s,%s,%s,%.2f,%s,%.2f,%.2f\n' \
    "$round" "$set" "$script" "$server" "$workers" "$conns" "$(awk -v d="${r[duration_us]}" 'BEGIN{print d/1e6}')" \
    "${r[requests]}" "${r[rps]}" "${r[p50_us]}" "${r[p90_us]}" "${r[p99_us]}" "${r[max_us]}" "${r[non2xx]}" \
    "$((r[connect] + r[read] + r[write] + r[timeout]))" \
    "$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" "$wrk_cpu" \
    "$(awk -v a="$b0" -v b="$b1" -v hz="$hz" 'BEGIN{print (b-a)/hz}')" \
    "$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN{print (b-a)/hz}')" >>"$tmp/raw.csv"
  printf '  %-10s %-8s %-26s c=%-3s %10.1f req/s  p50 %7.2f ms  p99 %8.2f ms  non2xx %s\n' \
    "$set" "$script" "$server" "$conns" "${r[rps]}" \
    "$(awk -v v="${r[p50_us]}" 'BEGIN{print v/1000}')" "$(awk -v v="${r[p99_us]}" 'BEGIN{print v/1000}')" \
    "${r[non2xx]}" >&2
}

# --- Memory ------------------------------------------------------------------
# For each worker count: a fresh warmcgi, requests that hold a worker each
# until every worker has run one (warm.py reports the thread it ran on), RSS;
# then one hgweb page per worker, RSS again.
measure_memory() {
  local mode=$1 n name pid round seen rss1 rss2 i
  case "$mode" in
    fork | process)
      # Their scripts run in other processes, which the server's RSS misses.
      log "memory: skipped for mode $mode (the server's RSS does not count its worker processes)"
      return 0 ;;
  esac
  for n in $MEM_WORKERS; do
    name=mem-$mode-w$n
    start_warmcgi "$name" "$mode" "$n"
    pid=${pgids[$name]# }
    seen=0
    for round in 1 2 3 4 5 6 7 8; do
      for i in $(seq "$n"); do
        curl -s --max-time 60 "${urls[$name]}/cgi-bin/warm.py?200" -o "$tmp/warm.$i" &
      done
      wait_jobs
      cat "$tmp"/warm.* >>"$tmp/warm.all"
      seen=$(python3 -c 'import json,sys; print(len({(d["pid"], d["tid"]) for d in map(json.loads, open(sys.argv[1]))}))' "$tmp/warm.all")
      rm -f "$tmp"/warm.*
      if [ "$seen" -ge "$n" ]; then break; fi
    done
    rm -f "$tmp/warm.all"
    wrk -t1 -c"$n" -d1s "${urls[$name]}/cgi-bin/hello.py" >/dev/null
    sleep 1
    rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    for i in $(seq "$n"); do
      curl -s --max-time 120 -o /dev/null "$(url "$name" hgweb)" &
    done
    wait_jobs
    sleep 1
    rss2=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    echo "$mode,$n,$seen,$rss1,$rss2" >>"$tmp/memory.csv"
    log "memory: $mode -w $n: $seen workers warmed, RSS ${rss1} KiB; after hgweb ${rss2} KiB"
    stop "$name"
  done
}

# wait_jobs: wait for the background curls (not for the servers, which are
# background jobs of this shell too).
wait_jobs() {
  local j
  for j in $(jobs -p); do
    case " ${all_groups[*]} " in *" $j "*) ;; *) wait "$j" || true ;; esac
  done
}

# --- Main --------------------------------------------------------------------
main() {
  install_deps
  [ -x "$WARMCGI" ] || die "$WARMCGI not found: run 'make build' first (or set WARMCGI)"
  command -v go >/dev/null || die "go not found (needed to build benchmarks/static)"
  [ -r /usr/share/doc/mercurial-common/examples/hgweb.cgi ] || die "mercurial's hgweb.cgi example is missing"
  warmcgi_help=$("$WARMCGI" serve --help 2>&1 || true)
  if [ "$(id -u)" = 0 ] && grep -q -- '--allow-root' <<<"$warmcgi_help"; then
    warmcgi_flags+=(--allow-root)
  fi

  tmp=$(mktemp -d /tmp/warmcgi-bench.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # Apache's and fcgiwrap's children run as www-data: the scripts and every
  # directory above them must be readable and searchable by others.
  chmod 755 "$tmp"
  cgi=$tmp/cgi-bin
  mkdir -p "$cgi" "$tmp/wsgi"
  cp "$repo/testdata/cgi-bin/hello.py" "$here"/cgi-bin/*.py "$cgi/"
  cp "$here/wsgi/hello.wsgi" "$here/wsgi/django.wsgi" "$tmp/wsgi/"
  # The Django project of djpage.py and wsgi/django.wsgi (both find it at
  # ../apps), compiled now: the servers' users cannot write __pycache__.
  cp -r "$here/apps" "$tmp/apps"
  find "$tmp/apps" -name __pycache__ -prune -exec rm -rf {} +
  /usr/bin/python3 -m compileall -q "$tmp/apps"
  chmod -R a+rX "$tmp/apps"

  # The real application: Mercurial's own hgweb.cgi serving a small repo,
  # run by the same /usr/bin/python3 as the other scripts.
  local hgrepo=$tmp/repo
  mkdir -p "$hgrepo/src" "$hgrepo/docs"
  (
    cd "$hgrepo"
    export HGUSER='bench <bench@example.org>' HGPLAIN=1
    hg init -q
    printf 'Benchmark repository (%s)\n\nA few files for an hgweb file view.\n' "$hg_marker" >README
    python3 - "$hg_file" "$hg_marker" <<'EOF'
import sys
path, marker = sys.argv[1], sys.argv[2]
lines = ['"""Shapes and their areas (%s)."""' % marker, "import math", ""]
for i in range(60):
    lines += ["", "class Shape%d:" % i, "    sides = %d" % (i % 7 + 3), "",
              "    def area(self, r=%d):" % (i + 1),
              "        return 0.5 * self.sides * r * r * math.sin(2 * math.pi / self.sides)", ""]
open(path, "w").write("\n".join(lines) + "\n")
EOF
    printf '# Notes\n\nNothing to see.\n' >docs/notes.md
    hg add -q
    hg commit -q -m 'first import'
    printf '\ndef total(shapes):\n    return sum(s.area() for s in shapes)\n' >>"$hg_file"
    hg commit -q -m 'add total()'
    printf 'More notes.\n' >>docs/notes.md
    hg commit -q -m 'more notes'
    # Fill every cache now, so no server writes one during the run.
    hg debugupdatecaches -q
    hg log -q >/dev/null
  )
  chmod -R a+rX "$hgrepo"
  sed -e "s|^config = .*|config = b\"$hgrepo\"|" -e '1s|.*|#!/usr/bin/python3|' \
    /usr/share/doc/mercurial-common/examples/hgweb.cgi >"$cgi/hgweb.cgi"
  chmod 755 "$cgi"/* "$cgi"
  chmod 644 "$tmp/wsgi/hello.wsgi" "$tmp/wsgi/django.wsgi"

  setup_cgroups
  log "building benchmarks/static"
  (cd "$here/static" && go build -o "$tmp/static" .)

  # Metadata for the report.
  local pyver
  pyver=$("$WARMCGI" version | awk '/^python:/ { print $2 }')
  {
    echo "date=$(date -u +%Y-%m-%d)"
    echo "time=$(date -u +%H:%M:%SZ)"
    echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "cores=$(nproc)"
    echo "memory=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    # shellcheck disable=SC1091
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "warmcgi_python=$pyver"
    echo "warmcgi_go=$("$WARMCGI" version | awk '/^go:/ { print $2 }')"
    echo "warmcgi_mode=$("$WARMCGI" version | sed -n 's/^mode: *//p')"
    echo "cgi_python=$(/usr/bin/python3 -c 'import platform; print(platform.python_version())')"
    echo "apache=$(/usr/sbin/apache2 -v | sed -n 's|^Server version: *||p')"
    echo "mod_wsgi=$(dpkg-query -W -f='${Version}' libapache2-mod-wsgi-py3)"
    echo "nginx=$(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||')"
    echo "fcgiwrap=$(dpkg-query -W -f='${Version}' fcgiwrap)"
    echo "wrk=$(dpkg-query -W -f='${Version}' wrk)"
    echo "mercurial=$(dpkg-query -W -f='${Version}' mercurial)"
    echo "django=$(dpkg-query -W -f='${Version}' python3-django)"
    echo "modes=$MODES"
    echo "sets=$SETS"
    echo "workers=$WORKERS"
    echo "rounds=$ROUNDS"
    echo "duration=$DURATION"
    echo "django_duration=$DJANGO_DURATION"
    echo "warmup=$WARMUP"
    echo "threads=$THREADS"
    echo "conns=$CONNS"
    echo "lat_conns=$LAT_CONNS"
    echo "fcgi_children=$FCGI_CHILDREN"
    echo "wsgi_mpm=$WSGI_MPM"
    echo "cpu_accounting=$([ -n "$cg_base" ] && echo cgroup-cpuacct || echo process-groups)"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$tmp/meta.env"

  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    log "warning: load average $load before the run: other work will disturb the numbers (see CPU other)"
  fi

  # Servers.
  log "starting servers"
  local mode warm=()
  for mode in $MODES; do
    start_warmcgi "warmcgi-$mode" "$mode" "$WORKERS"
    start_warmcgi "warmcgi-$mode-w1" "$mode" 1
    warm+=("warmcgi-$mode")
  done
  start_apache_cgi
  start_nginx_fcgiwrap
  start_apache_wsgi
  start_go_static

  # The cells, one comparison set per line: SET SCRIPT CONNS SERVER...
  local w1=() m
  for m in $MODES; do w1+=("warmcgi-$m-w1"); done
  local all_sets=(
    "hello hello $CONNS ${warm[*]} ${w1[*]} apache-cgi nginx-fcgiwrap apache-wsgi go-static"
    "form formpost $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap"
    "cpu cpu5ms $CONNS ${warm[*]} ${w1[*]} apache-cgi nginx-fcgiwrap"
    "out1mb out1mb $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap"
    "hgweb hgweb $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap"
    "django djpage $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap apache-wsgi"
    "latency hello $LAT_CONNS ${warm[*]} apache-wsgi go-static"
  )
  local sets=() line
  for line in "${all_sets[@]}"; do
    case " $SETS " in *" ${line%% *} "*) sets+=("$line") ;; esac
  done
  [ "${#sets[@]}" -gt 0 ] || die "SETS=\"$SETS\" names none of: hello form cpu out1mb hgweb django latency"

  log "verifying every cell answers correctly"
  local set script conns servers s
  for line in "${sets[@]}"; do
    read -r set script conns servers <<<"$line"
    for s in $servers; do verify "$s" "$script"; done
  done

  # Prime: as many concurrent requests as connections to every cell, waited
  # for, so every warmcgi worker has imported what its scripts import
  # (Mercurial's first page in a worker takes far longer than the rest).
  log "priming every cell"
  for line in "${sets[@]}"; do
    read -r set script conns servers <<<"$line"
    for s in $servers; do prime "$s" "$script"; done
  done

  echo "$raw_header" >"$tmp/raw.csv"
  # Round 0 is the warm-up round (2 s a cell, not recorded; skipped with
  # WARMUP=0).
  local round start_round=0 list=() n i
  if [ "$WARMUP" = 0 ]; then start_round=1; fi
  for round in $(seq "$start_round" "$ROUNDS"); do
    if [ "$round" = 0 ]; then log "warm-up round (not recorded)"; else log "round $round of $ROUNDS"; fi
    for line in "${sets[@]}"; do
      read -r set script conns servers <<<"$line"
      # Rotate the order of the servers every round, so no server always
      # runs first (or right after the heaviest peer).
      read -ra list <<<"$servers"
      n=${#list[@]}
      for i in $(seq 0 $((n - 1))); do
        s=${list[$(((i + round) % n))]}
        if [ "$round" = 0 ]; then
          run_wrk "$s" "$script" "$conns" 2 >/dev/null
        else
          measure "$round" "$set" "$s" "$script" "$conns"
        fi
      done
    done
  done

  # Memory, with the throughput servers stopped.
  for s in "${!pgids[@]}"; do stop "$s"; done
  echo "mode,workers,workers_warmed,rss_kib,rss_hgweb_kib" >"$tmp/memory.csv"
  for mode in $MODES; do measure_memory "$mode"; done
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp/meta.env"

  mkdir -p "$RESULTS"
  python3 "$here/report.py" --raw "$tmp/raw.csv" --memory "$tmp/memory.csv" --meta "$tmp/meta.env" \
    --out "$RESULTS"
}

main "$@"
