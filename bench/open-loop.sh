#!/usr/bin/env bash
# Open-loop precision at a high rate: loadgen --rate RATE/s on one client CPU (one tokio
# thread) against nginx `return 204;` (one worker) on another, a server with headroom
# (it answers a closed loop about twice as fast). Per run: the achieved rate against the
# target, sends late by more than loadgen's threshold (2 ms) and dropped, as a share of
# the sends due, the send lateness p50/p99/max, and the hypervisor's steal on the client
# CPU during the run.
#
# Usage: bench/open-loop.sh [RATE] [SECONDS] [RUNS]
#   CLIENT_CPU=0 SERVER_CPU=1 MAX_IN_FLIGHT=5000 LOADGEN=path/to/loadgen
# Needs: nginx, python3, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${1:-50000}
SECS=${2:-5}
RUNS=${3:-3}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-5000}
PORT=${BENCH_PORT:-18193}
TMP=$(mktemp -d)
NGINX_PID=""
cleanup() {
  if [[ -n "$NGINX_PID" ]]; then kill "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
for tool in nginx python3 taskset; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done

cargo build --release -q -p loadgen
LOADGEN=${LOADGEN:-${CARGO_TARGET_DIR:-target}/release/loadgen}

# shellcheck source=bench/lib/nginx204.sh
source bench/lib/nginx204.sh
start_nginx204 "$TMP/nginx" "$PORT" "$SERVER_CPU" 8192

steal() { awk -v c="cpu${CLIENT_CPU}" '$1 == c {print $9}' /proc/stat; }

echo "| run | target | achieved | vs target | late | dropped | late + dropped | lateness p50 | p99 | max | steal |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for run in $(seq 1 "$RUNS"); do
  s0=$(steal)
  taskset -c "$CLIENT_CPU" "$LOADGEN" "http://127.0.0.1:${PORT}/" --rate "${RATE}/s" \
    --duration "${SECS}s" --settle 0s --threads 1 --max-in-flight "$MAX_IN_FLIGHT" \
    --quiet --json >"$TMP/open.json"
  s1=$(steal)
  python3 - "$TMP/open.json" "$run" "$RATE" "$((s1 - s0))" "$SECS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
run, rate, steal, secs = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
o = s["overall"]
due = o["requests"] + o["dropped"]
l = o.get("send_lateness") or {"p50_us": 0, "p99_us": 0, "max_us": 0}
pct = lambda n: f"{100 * n / max(due, 1):.2f}%"
print(f"| {run} | {rate:.0f}/s | {o['rps']:.0f}/s | {o['rps'] / rate:.4f} | {o['late']} ({pct(o['late'])}) "
      f"| {o['dropped']} ({pct(o['dropped'])}) | {pct(o['late'] + o['dropped'])} "
      f"| {l['p50_us'] / 1e3:.2f} ms | {l['p99_us'] / 1e3:.2f} ms | {l['max_us'] / 1e3:.2f} ms "
      f"| {steal / 100 / secs:.1%} |")
PY
done
