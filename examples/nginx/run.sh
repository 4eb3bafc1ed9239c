#!/usr/bin/env bash
# nginx (Debian's package, no OpenTelemetry) serving a static page on 127.0.0.1:PORT.
#
#   run.sh PORT [plain|limited]
#
#   /         html/index.html (about 1 KiB)
#   /healthz  200
#
# plain    serves everything it can.
# limited  paces and sheds load on / with 503 (see LIMITS below).
#
# The config, pid file and temp paths live in a private temporary directory; the
# error log goes to stderr (the directory does not outlive the run). nginx runs as a
# direct child of this script rather than exec'ed: the script stays to forward
# SIGTERM/SIGINT/SIGHUP to it, wait for it and remove the directory (an exec'ed nginx
# would leave it behind). The master forks one worker, so the load is served by a
# child of the master, a grandchild of this script. nginx's exit status is the script's.
set -euo pipefail

usage() { echo "usage: $0 PORT [plain|limited]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
port=$1
mode=${2:-plain}
[[ $port =~ ^[1-9][0-9]{0,4}$ ]] || usage
((port <= 65535)) || usage
[[ $mode == plain || $mode == limited ]] || usage

dir=
nginx_pid=
interrupted=0
# shellcheck disable=SC2317  # called from the traps below
forward() {
    interrupted=1
    if [[ -n $nginx_pid ]]; then kill -s "$1" "$nginx_pid" 2>/dev/null || true; fi
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward TERM' HUP
trap 'if [[ -n $dir ]]; then rm -rf "$dir"; fi' EXIT

html=$(cd "$(dirname "${BASH_SOURCE[0]}")/html" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/satlab-nginx.XXXXXX")

# "user" only means something to a master started as root (otherwise nginx warns and
# ignores it). As root the workers keep root, so they can read the page wherever the
# checkout lies (a home directory may be closed to "nobody"); this is a loopback lab.
user=
if [[ $(id -u) -eq 0 ]]; then user="user root root;"; fi

# LIMITS (limited mode): per client address, at most 2000 requests/s on /; up to 8
# requests over that rate wait their turn (limit_req without nodelay), and any more are
# refused at once with 503. A client with fewer than 8 requests in flight is paced, never
# refused; with 8 or more, most of its requests are refused.
# Measured with wrk -t1 -d5s on 127.0.0.1 (2 cores, nginx 1.22.1; plain mode serves
# about 24,000 req/s at -c4 and -c64 alike, its worker at one core):
#   -c2   2,000 req/s, no 503, latency 1 ms
#   -c4   2,000 req/s, no 503, latency 2 ms
#   -c7   2,000 req/s, no 503
#   -c8   20,600-23,900 req/s, 90-92% 503
#   -c16  67,400 req/s, 97% 503, worker 0.96 core (refusing is cheap)
#   -c64  52,800-65,500 req/s, 96-97% 503
# limit_conn is left out: nginx counts a connection only while a request on it is being
# processed, and a static file is served within one pass of the worker's event loop, so
# limit_conn 8 refused nothing even at -c64 (nor does it count requests limit_req delays).
limits=
location_limits=
if [[ $mode == limited ]]; then
    limits="
    limit_req_zone \$binary_remote_addr zone=per_client:1m rate=2000r/s;
    limit_req_status 503;
    # A refusal is an error-log line at the default level: log them below it.
    limit_req_log_level info;"
    location_limits="
            limit_req zone=per_client burst=8;"
fi

cat >"$dir/nginx.conf" <<EOF
$user
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;

    types { text/html html; }
    default_type application/octet-stream;
    sendfile on;
    log_not_found off;
    # Kept-alive connections are not closed after 1000 requests (the default).
    keepalive_requests 1000000;
    keepalive_timeout 65s;
$limits

    server {
        listen 127.0.0.1:$port;
        root $html;

        location = /healthz {
            default_type text/plain;
            return 200 "ok\n";
        }
        location / {$location_limits
            index index.html;
        }
    }
}
EOF

# -e: the error log from the very start, before the config is read (the compiled-in
# default under /var/log is not writable by a normal user).
nginx -e stderr -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
# A stop asked for before nginx_pid was known.
if ((interrupted)); then kill -s TERM "$nginx_pid" 2>/dev/null || true; fi
# A trapped signal ends `wait` early (status > 128): wait again for nginx's own status.
while :; do
    interrupted=0
    wait "$nginx_pid" && status=0 || status=$?
    ((interrupted)) || break
done
# bash 5.2 may lose the status of a child that exits while a trap runs (`wait` then
# gives -1): nginx was stopping on request, so count that as a clean stop.
((status >= 0 && status <= 255)) || status=0
exit "$status"
