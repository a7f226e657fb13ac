# benchmarks/servers.sh — the servers of benchmarks/run.sh, which sources
# this file: one start_* function per server (or per nginx and the backend
# behind it), each in a session of its own on 127.0.0.1 with its
# configuration under $tmp. Uses run.sh's start, wait_ready, free_port and
# knobs.
# shellcheck shell=bash

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

# nginx_start NAME DIR PORT HTTP_BLOCK SERVER_BLOCK: an nginx of the same
# configuration for every nginx cell (one worker per core, no access log,
# its workers as www-data when root) in NAME's session and cgroup, so that
# its CPU counts with the backend it fronts; HTTP_BLOCK goes into http {},
# SERVER_BLOCK into its one server {}.
nginx_start() {
  local name=$1 dir=$2 port=$3 http_block=$4 server_block=$5 nginx_user=""
  if [ "$(id -u)" = 0 ]; then nginx_user="user www-data;"; fi
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
$http_block
  server {
    listen 127.0.0.1:$port;
    server_name 127.0.0.1;
$server_block
  }
}
EOF
  start "$name" "$dir/nginx.log" /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf"
  urls[$name]="http://127.0.0.1:$port"
}

# run_dir DIR: DIR/run for sockets and pid files, owned by www-data when
# root (the user nginx's workers and the backends run as).
run_dir() {
  mkdir -p "$1/run"
  if [ "$(id -u)" = 0 ]; then chown www-data:www-data "$1/run"; fi
}

start_nginx_fcgiwrap() {
  local name=nginx-fcgiwrap dir=$tmp/nginx port user=()
  port=$(free_port)
  run_dir "$dir"
  if [ "$(id -u)" = 0 ]; then
    user=(setpriv --reuid=www-data --regid=www-data --init-groups)
  fi
  start "$name" "$dir/fcgiwrap.log" "${user[@]}" /usr/sbin/fcgiwrap -c "$FCGI_CHILDREN" -s "unix:$dir/run/fcgiwrap.sock"
  nginx_start "$name" "$dir" "$port" "" "    location ~ ^/cgi-bin/([^/]+)(/.*)?\$ {
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
    }"
  wait_ready "$name" "${urls[$name]}/cgi-bin/hello.py" "$dir/nginx.log"
}

# start_nginx_warmcgi NAME KIND: nginx → warmcgi over FastCGI, configured as
# examples/nginx-fastcgi.conf does (Debian's fastcgi_params, warmcgi with
# --listen none). KIND: tcp (127.0.0.1:PORT), unix (a Unix socket) or keep
# (the Unix socket with fastcgi_keep_conn and an upstream keepalive pool, so
# nginx reuses its FastCGI connections).
start_nginx_warmcgi() {
  local name=$1 kind=$2 dir=$tmp/$1 port addr args=() http_block="" pass extra=""
  port=$(free_port)
  run_dir "$dir"
  case "$kind" in
    tcp) addr=127.0.0.1:$(free_port); pass=$addr ;;
    unix) addr=unix:$dir/run/warmcgi.sock; pass=$addr ;;
    keep)
      addr=unix:$dir/run/warmcgi.sock; pass=warmcgi
      http_block="  upstream warmcgi {
    server $addr;
    keepalive $((CONNS * 2));
  }"
      extra="      fastcgi_keep_conn on;" ;;
    *) die "start_nginx_warmcgi: unknown kind $kind" ;;
  esac
  args=(serve "$cgi" --listen none --fastcgi "$addr" -w "$WORKERS" --isolation "$FCGI_MODE" --log-level warn
    --queue $((LAT_CONNS * 2)))
  # Root runs the scripts as root (--allow-root) and nginx's workers as
  # www-data, who must be let into the socket.
  if [ "$(id -u)" = 0 ] && [ "$kind" != tcp ]; then args+=(--socket-group www-data); fi
  start "$name" "$dir/warmcgi.log" "$WARMCGI" "${args[@]}" "${warmcgi_flags[@]}"
  nginx_start "$name" "$dir" "$port" "$http_block" "    location /cgi-bin/ {
      include /etc/nginx/fastcgi_params;
      fastcgi_pass $pass;
$extra
    }"
  wait_ready "$name" "${urls[$name]}/cgi-bin/hello.py" "$dir/warmcgi.log"
}

# start_nginx_uwsgi: nginx → uWSGI (Debian's uwsgi-core and its python3
# plugin) serving the native WSGI apps of wsgi/ over a Unix socket: a
# master and UWSGI_PROCESSES single-threaded workers, each app loaded once
# per worker, no request log.
start_nginx_uwsgi() {
  local name=nginx-uwsgi dir=$tmp/nginx-uwsgi port user=()
  port=$(free_port)
  run_dir "$dir"
  if [ "$(id -u)" = 0 ]; then
    user=(--uid www-data --gid www-data --chown-socket www-data:www-data)
  fi
  start "$name" "$dir/uwsgi.log" /usr/bin/uwsgi-core --plugin python3 --master --die-on-term --need-app \
    --processes "$UWSGI_PROCESSES" --threads 1 --disable-logging --socket "$dir/run/uwsgi.sock" --chmod-socket=660 \
    "${user[@]}" --mount "/wsgi/hello=$tmp/wsgi/hello.wsgi" --mount "/wsgi/django=$tmp/wsgi/django.wsgi" --manage-script-name
  nginx_start "$name" "$dir" "$port" "" "    location /wsgi/ {
      include /etc/nginx/uwsgi_params;
      uwsgi_pass unix:$dir/run/uwsgi.sock;
    }"
  wait_ready "$name" "${urls[$name]}/wsgi/hello" "$dir/uwsgi.log"
}

start_go_static() {
  local name=go-static port
  port=$(free_port)
  start "$name" "$tmp/go-static.log" "$tmp/static" -listen "127.0.0.1:$port"
  urls[$name]="http://127.0.0.1:$port"
  wait_ready "$name" "${urls[$name]}/hello" "$tmp/go-static.log"
}
