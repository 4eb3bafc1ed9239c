# Sourced by the bench scripts: nginx answering `204` to every request, one worker, as a
# server cheaper per request than any client measured against it.

# shellcheck source=bench/lib/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

# start_nginx204 DIR PORT [CPU] [WORKER_CONNECTIONS]: start it under DIR (config, pid,
# logs), pinned to CPU when given; sets NGINX_PID and waits for the port.
start_nginx204() {
  local dir=$1 port=$2 cpu=${3:-} conns=${4:-1024}
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections $conns; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:${port};
    location / { return 204; }
  }
}
CONF
  if [[ -n "$cpu" ]]; then
    taskset -c "$cpu" nginx -c "$dir/nginx.conf" -p "$dir" &
  else
    nginx -c "$dir/nginx.conf" -p "$dir" &
  fi
  NGINX_PID=$!
  wait_port "$port"
}
