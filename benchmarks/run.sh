#!/usr/bin/env bash
# benchmarks/run.sh — warmcgi side by side with Apache mod_cgi, nginx+fcgiwrap,
# mod_wsgi (embedded, native WSGI), nginx+uWSGI (native WSGI) and a Go net/http
# handler, and warmcgi behind nginx over FastCGI, all on 127.0.0.1 of this
# machine, in one run. See benchmarks/README.md for the method.
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
MODES=${MODES:-subinterp process fork}      # isolation modes to measure, e.g. "subinterp auto fork"
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
FCGI_MODE=${FCGI_MODE:-${MODES%% *}}        # --isolation of the warmcgi behind nginx (the nginx-warmcgi-* cells)
UWSGI_PROCESSES=${UWSGI_PROCESSES:-$WORKERS} # uwsgi --processes (one thread each)
WSGI_MPM=${WSGI_MPM:-prefork}               # MPM of the mod_wsgi Apache: prefork or event
RESULTS=${RESULTS:-$here/results}           # where the .csv, .md and .svg go
KEEP_TMP=${KEEP_TMP:-0}                     # 1: keep the temporary directory (configs, logs)
RUN_TAG=${RUN_TAG:-}                        # put into the result files' names: <date>-<tag>-python<version>
UPDATE_README=${UPDATE_README:-0}           # 1: rewrite the README's generated performance block from this run
COMMIT=${COMMIT:-}                           # the commit the report names (default: git's HEAD of this checkout; set it for a copy without .git)
CPU_ACCOUNTING=${CPU_ACCOUNTING:-auto}      # auto, cgroup-v1-cpuacct, cgroup-v2 or sessions (see setup_cgroups)
PROFILE=${PROFILE:-0}                       # 1: after the rounds, one more run of each hello cell under perf (see profile_cells)

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
  for pkg in apache2 libapache2-mod-wsgi-py3 nginx fcgiwrap uwsgi-core uwsgi-plugin-python3 wrk mercurial \
    python3-django curl python3 procps; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ "$PROFILE" = 1 ] && ! command -v perf >/dev/null; then need+=(linux-perf); fi
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
    for g in "${all_groups[@]}"; do running "$g" && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for g in "${all_groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; pkill -KILL -s "$g" 2>/dev/null || true; done
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
# mounted on its own, or else a cgroup v2 hierarchy (Debian 12's default),
# and our cgroup in it is writable, every server runs in a child cgroup of
# ours, which counts every process it ever forks (accounting only: no
# controller is enabled, no scheduling or limits change). Otherwise the CPU
# of a server is summed over its session from /proc, which misses the CGI
# children that a server does not wait for (fcgiwrap ignores SIGCHLD): see
# "CPU server" in the README.
cg_base="" cg_kind=""
setup_cgroups() {
  local mnt own
  case "$CPU_ACCOUNTING" in
    auto | cgroup-v1-cpuacct | cgroup-v2) ;;
    sessions) return 0 ;;
    *) die "CPU_ACCOUNTING=$CPU_ACCOUNTING: want auto, cgroup-v1-cpuacct, cgroup-v2 or sessions" ;;
  esac
  mnt=$(awk '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) { if (o[i] == "cpu") cpu = 1; if (o[i] == "cpuacct") acct = 1 }
               if (acct && !cpu) { print $2; exit } cpu = acct = 0 }' /proc/mounts)
  own=$(awk -F: '$2 == "cpuacct" { print $3; exit }' /proc/self/cgroup)
  if [ "$CPU_ACCOUNTING" != cgroup-v2 ] && [ -n "$mnt" ] && [ -n "$own" ] &&
    mkdir "$mnt${own%/}/warmcgi-bench.$$" 2>/dev/null; then
    cg_base=$mnt${own%/}/warmcgi-bench.$$ cg_kind=cgroup-v1-cpuacct
    return 0
  fi
  mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
  own=$(awk -F: '$1 == "0" && $2 == "" { print $3; exit }' /proc/self/cgroup)
  if [ -n "$mnt" ] && [ -n "$own" ] && mkdir "$mnt${own%/}/warmcgi-bench.$$" 2>/dev/null; then
    cg_base=$mnt${own%/}/warmcgi-bench.$$ cg_kind=cgroup-v2
  fi
  if [ "$CPU_ACCOUNTING" != auto ] && [ "$cg_kind" != "$CPU_ACCOUNTING" ]; then
    die "CPU_ACCOUNTING=$CPU_ACCOUNTING: no writable hierarchy of that kind"
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

# running PID: whether the process we started as PID, or its process
# group, still exists (right after the start, setsid may not have made the
# group yet).
running() {
  kill -0 "$1" 2>/dev/null || kill -0 -- "-$1" 2>/dev/null
}

stop() {
  local name=$1 g
  for g in ${pgids[$name]}; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for g in ${pgids[$name]}; do running "$g" && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  # Worker processes have process groups of their own, in the session.
  for g in ${pgids[$name]}; do kill -KILL -- "-$g" 2>/dev/null || true; pkill -KILL -s "$g" 2>/dev/null || true; done
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
    # Success only: an nginx answers 502 until its backend listens.
    if curl -sf -o /dev/null --max-time 2 "$url"; then return 0; fi
    for g in ${pgids[$name]}; do
      running "$g" || { cat "$logf" >&2; die "$name exited before answering on $url"; }
    done
    [ "$SECONDS" -lt "$deadline" ] || { cat "$logf" >&2; die "$name did not answer on $url within 30s"; }
    sleep 0.1
  done
}

# CPU seconds used so far by server NAME: its cgroup's counter, or the
# processes of its sessions (process-mode workers and fork-mode templates
# have process groups of their own) and the children they have reaped.
server_cpu() {
  case "$cg_kind" in
    cgroup-v1-cpuacct) awk '{ printf "%.3f\n", $1 / 1e9 }' "$cg_base/$1/cpuacct.usage"; return ;;
    cgroup-v2) awk '$1 == "usage_usec" { printf "%.3f\n", $2 / 1e6 }' "$cg_base/$1/cpu.stat"; return ;;
  esac
  local groups=" ${pgids[$1]} "
  # A process that ends between the glob and cat makes cat fail: not an error.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v groups="$groups" -v hz="$(getconf CLK_TCK)" '
    { sub(/^.*\) /, ""); if (index(groups, " " $3 " ") || index(groups, " " $4 " ")) t += $12 + $13 + $14 + $15 }
    END { printf "%.3f\n", t / hz }'
}

# Busy and total clock ticks of all CPUs.
cpu_ticks() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit }' /proc/stat
}

# --- Servers -----------------------------------------------------------------
# shellcheck source=benchmarks/servers.sh
. "$here/servers.sh"

# --- What each cell requests -------------------------------------------------
# path SERVER SCRIPT: the URL path of SCRIPT on SERVER.
path() {
  case "$1:$2" in
    apache-wsgi:hello | nginx-uwsgi:hello) echo /wsgi/hello ;;
    go-static:hello) echo /hello ;;
    *:hgweb) echo "/cgi-bin/hgweb.cgi/file/tip/$hg_file" ;;
    apache-wsgi:djpage | nginx-uwsgi:djpage) echo /wsgi/django/items/ ;;
    *:djpage) echo /cgi-bin/djpage.py/items/ ;;
    *) echo "/cgi-bin/$2.py" ;;
  esac
}

# log_of SERVER: the log of a warmcgi server (nothing for the peers).
log_of() {
  case "$1" in
    nginx-warmcgi-*) echo "$tmp/$1/warmcgi.log" ;;
    warmcgi-*) echo "$tmp/$1.log" ;;
  esac
}

# verify SERVER SCRIPT: one request must give 200 and the script's real
# output; a benchmark of an error page is worthless. Returns 3, with the
# reason on stdout, when a warmcgi server answered 500 because its isolation
# mode cannot run the script: a sub-interpreter refused an extension module
# (on Python 3.12+, Mercurial's single-phase C parsers under an explicit
# --isolation subinterp). That cell is then not measured, and the report says
# why; any other failure stops the run.
verify() {
  local server=$1 script=$2 target body=() out status log size=0 reason
  target=$(url "$server" "$script")
  if [ "$script" = formpost ]; then body=(--data "$form_body"); fi
  out=$tmp/verify.out
  log=$(log_of "$server")
  if [ -n "$log" ] && [ -f "$log" ]; then size=$(stat -c %s "$log"); fi
  status=$(curl -s -o "$out" -w '%{http_code}' --max-time 60 "${body[@]}" "$target") || status=curl-failed
  if [ "$status" = 500 ] && [ -n "$log" ]; then
    reason=$(tail -c "+$((size + 1))" "$log" | grep -o "module '[^']*' cannot load in a sub-interpreter" | tail -1)
    if [ -n "$reason" ]; then
      echo "$reason"
      return 3
    fi
  fi
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
    warmcgi-* | nginx-warmcgi-*) workers=$WORKERS ;;
    nginx-uwsgi) workers=$UWSGI_PROCESSES ;;
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

# --- Profiles ----------------------------------------------------------------
# profile_cells SCRIPT SERVER...: with PROFILE=1, each cell once more for
# DURATION s under a system-wide perf record (cpu-clock, call graphs), the
# samples split per request by benchmarks/perfsplit.py into
# $tmp/profile.md: where the CPU of warmcgi's requests goes (the issue's
# per-request breakdown), beside the peers' processes. Not in the table:
# perf's own cost would be.
profile_cells() {
  local script=$1 s out=$tmp/wrk.out line kv requests
  shift
  command -v perf >/dev/null || die "PROFILE=1 needs perf (Debian's linux-perf)"
  : >"$tmp/profile.md"
  for s in "$@"; do
    run_wrk "$s" "$script" "$CONNS" "$WARMUP" >/dev/null
    perf record -a -g -e cpu-clock -F 999 -o "$tmp/perf.data" >"$tmp/perf.log" 2>&1 &
    local perf_pid=$!
    sleep 1
    kill -0 "$perf_pid" 2>/dev/null || { cat "$tmp/perf.log" >&2; die "perf record did not start"; }
    run_wrk "$s" "$script" "$CONNS" "$DURATION" >"$out"
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    line=$(grep '^RESULT ' "$out") || die "wrk gave no result for $s $script (profile)"
    requests=""
    for kv in ${line#RESULT }; do [ "${kv%%=*}" = requests ] && requests=${kv#*=}; done
    log "profile: $s $script, $requests requests"
    perf script -F comm,pid,tid,period,ip,sym,dso -i "$tmp/perf.data" 2>/dev/null |
      python3 "$here/perfsplit.py" --requests "$requests" --label "$s, $script.py, $CONNS connections" >>"$tmp/profile.md"
    echo >>"$tmp/profile.md"
    rm -f "$tmp/perf.data"
  done
}

# --- Memory ------------------------------------------------------------------
# For each worker count: a fresh warmcgi, bursts of requests that hold a
# worker each until every worker has run one (warm.py reports the process
# and thread it ran on), 1 s of hello.py, then three readings of the PSS
# summed over the server and all its descendants (benchmarks/pss.py): at
# rest; while as many warm.py requests as workers hold every worker (fork
# mode's per-request processes exist only then); at rest after one hgweb
# page per worker.
measure_memory() {
  local mode=$1 n name pid round seen i hold want rest busy hg
  for n in $MEM_WORKERS; do
    name=mem-$mode-w$n
    start_warmcgi "$name" "$mode" "$n"
    pid=${pgids[$name]# }
    seen=0
    for round in 1 2 3 4 5 6 7 8; do
      # Each burst holds its workers longer (200 ms, 400 ms...), so that its
      # requests overlap even when a loaded machine starts them slowly.
      for i in $(seq "$n"); do
        curl -s --max-time 60 "${urls[$name]}/cgi-bin/warm.py?$((200 * round))" -o "$tmp/warm.$i" &
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
    rest=$(python3 "$here/pss.py" "$pid")
    # Busy: n requests holding their workers. Fork mode forks a process
    # per request: wait until they all exist (the processes at rest and n
    # children), then give them a second to import what warm.py imports.
    hold=4000 want=1
    case "$mode" in fork) hold=10000 want=$((${rest%% *} + n)) ;; process) want=$((n + 1)) ;; esac
    for i in $(seq "$n"); do
      curl -s --max-time 60 -o /dev/null "${urls[$name]}/cgi-bin/warm.py?$hold" &
    done
    local deadline=$((SECONDS + hold / 1000 - 2))
    sleep 0.5
    while [ "$SECONDS" -lt "$deadline" ] && [ "$(python3 "$here/pss.py" "$pid" | cut -d' ' -f1)" -lt "$want" ]; do
      sleep 0.2
    done
    sleep 1
    busy=$(python3 "$here/pss.py" "$pid")
    wait_jobs
    for i in $(seq "$n"); do
      curl -s --max-time 120 -o /dev/null "$(url "$name" hgweb)" &
    done
    wait_jobs
    sleep 1
    hg=$(python3 "$here/pss.py" "$pid")
    # procs pss_kib rss_sum_kib main_rss_kib, three times.
    echo "$mode,$n,$seen,${rest// /,},${busy// /,},${hg// /,}" >>"$tmp/memory.csv"
    log "memory: $mode -w $n: $seen workers warmed; procs pss_kib rss_sum_kib main_rss_kib: at rest $rest; busy $busy; after hgweb $hg"
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

# prepare_tree: the scripts, the WSGI apps, the Django project and an hgweb
# repository under $tmp, readable by the servers' users.
prepare_tree() {
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
}

# write_meta: what the report says about the run ($tmp/meta.env).
write_meta() {
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
    echo "uwsgi=$(dpkg-query -W -f='${Version}' uwsgi-core)"
    if [ -n "$COMMIT" ]; then
      echo "commit=$COMMIT"
    else
      echo "commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- 2>/dev/null || echo "+changes")"
    fi
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
    echo "fcgi_mode=$FCGI_MODE"
    echo "uwsgi_processes=$UWSGI_PROCESSES"
    echo "tag=$RUN_TAG"
    echo "wsgi_mpm=$WSGI_MPM"
    echo "cpu_accounting=${cg_kind:-sessions}"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$tmp/meta.env"
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
  prepare_tree
  setup_cgroups
  log "building benchmarks/static"
  (cd "$here/static" && go build -o "$tmp/static" .)

  write_meta
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
  start_nginx_warmcgi nginx-warmcgi-tcp tcp
  start_nginx_warmcgi nginx-warmcgi-unix unix
  start_nginx_warmcgi nginx-warmcgi-keep keep
  start_nginx_uwsgi

  # The cells, one comparison set per line: SET SCRIPT CONNS SERVER...
  local w1=() m nginx_cells="nginx-warmcgi-tcp nginx-warmcgi-unix nginx-warmcgi-keep"
  for m in $MODES; do w1+=("warmcgi-$m-w1"); done
  local all_sets=(
    "hello hello $CONNS ${warm[*]} ${w1[*]} apache-cgi nginx-fcgiwrap apache-wsgi go-static $nginx_cells nginx-uwsgi"
    "form formpost $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap"
    "cpu cpu5ms $CONNS ${warm[*]} ${w1[*]} apache-cgi nginx-fcgiwrap"
    "out1mb out1mb $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap"
    "hgweb hgweb $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap"
    "django djpage $CONNS ${warm[*]} apache-cgi nginx-fcgiwrap apache-wsgi nginx-warmcgi-unix nginx-uwsgi"
    "latency hello $LAT_CONNS ${warm[*]} apache-wsgi go-static"
  )
  local sets=() line
  for line in "${all_sets[@]}"; do
    case " $SETS " in *" ${line%% *} "*) sets+=("$line") ;; esac
  done
  [ "${#sets[@]}" -gt 0 ] || die "SETS=\"$SETS\" names none of: hello form cpu out1mb hgweb django latency"

  log "verifying every cell answers correctly"
  local set script conns servers s kept reason rc not_measured=() i
  for i in "${!sets[@]}"; do
    read -r set script conns servers <<<"${sets[i]}"
    kept=()
    for s in $servers; do
      rc=0
      reason=$(verify "$s" "$script") || rc=$?
      if [ "$rc" = 3 ]; then
        log "not measured: $s $script ($reason)"
        not_measured+=("$set:$s=$reason")
      elif [ "$rc" != 0 ]; then
        exit "$rc" # verify said why (it ran in a subshell)
      else
        kept+=("$s")
      fi
    done
    sets[i]="$set $script $conns ${kept[*]}"
  done
  if [ "${#not_measured[@]}" -gt 0 ]; then
    (IFS='|'; echo "not_measured=${not_measured[*]}") >>"$tmp/meta.env"
  fi

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

  local profile=()
  if [ "$PROFILE" = 1 ]; then
    for line in "${sets[@]}"; do
      read -r set script conns servers <<<"$line"
      [ "$set" = hello ] || continue
      # warmcgi's cells and the native peers (a fresh process per request
      # is mod_cgi's and fcgiwrap's whole story).
      list=()
      for s in $servers; do
        case "$s" in apache-cgi | nginx-fcgiwrap) ;; *) list+=("$s") ;; esac
      done
      log "profiling the hello cells"
      profile_cells "$script" "${list[@]}"
      profile=(--profile "$tmp/profile.md")
    done
  fi

  # Memory, with the throughput servers stopped.
  for s in "${!pgids[@]}"; do stop "$s"; done
  local m3=procs,pss_kib,rss_sum_kib,main_rss_kib
  echo "mode,workers,workers_warmed,${m3//,/_rest,}_rest,${m3//,/_busy,}_busy,${m3//,/_hgweb,}_hgweb" >"$tmp/memory.csv"
  for mode in $MODES; do measure_memory "$mode"; done
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$tmp/meta.env"

  mkdir -p "$RESULTS"
  local readme=(--readme "$repo/README.md")
  if [ "$UPDATE_README" = 1 ]; then readme+=(--update-readme); fi
  python3 "$here/report.py" --raw "$tmp/raw.csv" --memory "$tmp/memory.csv" --meta "$tmp/meta.env" \
    --out "$RESULTS" "${readme[@]}" "${profile[@]}"
}

main "$@"
