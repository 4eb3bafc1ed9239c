#!/usr/bin/env bash
# Client cost per request in instructions (valgrind callgrind), which a busy machine does
# not move: wrk and loadgen against nginx `return 204;` (one worker, loopback), each run
# twice (SHORT and LONG seconds) at CONNECTIONS; instructions per request are the
# marginal between the two runs, so start-up and tear-down cancel out. loadgen runs with
# every request carrying a traceparent (--trace-sample 1.0, no OTLP endpoint).
#
# Usage: bench/client-instructions.sh [SHORT_S] [LONG_S] [CONNECTIONS]
#   LOADGEN_BASELINE=/path/to/loadgen adds a row for another loadgen build.
# Needs: valgrind, wrk, nginx, python3 (apt-get install valgrind wrk nginx python3).
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=${1:-2}
LONG=${2:-6}
CONNS=${3:-16}
PORT=${BENCH_PORT:-18190}
URL="http://127.0.0.1:${PORT}/"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
TMP=$(mktemp -d)
NGINX_PID=""
cleanup() {
  if [[ -n "$NGINX_PID" ]]; then kill "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

for tool in valgrind wrk nginx python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done
cargo build --release -q -p loadgen
LOADGEN="$TARGET_DIR/release/loadgen"

# shellcheck source=bench/lib/nginx204.sh
source bench/lib/nginx204.sh
start_nginx204 "$TMP/nginx" "$PORT"

# One run under callgrind: prints "<requests> <instructions>".
callgrind() {
  local out="$TMP/cg.out"
  rm -f "$out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" 2>"$TMP/valgrind.log" >"$TMP/tool.out"
  local ir
  ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  echo "$ir"
}
run_wrk() {
  local ir
  ir=$(callgrind wrk -t1 -c"$CONNS" -d"${1}s" "$URL")
  echo "$(awk '/requests in/ {print $1}' "$TMP/tool.out") $ir"
}
run_loadgen() {
  local bin=$1 dur=$2 ir
  ir=$(callgrind "$bin" "$URL" --stages "${CONNS}:${dur}s" --settle 0s --threads 1 \
    --trace-sample 1.0 --quiet --json)
  echo "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["overall"]["requests"])' \
    "$TMP/tool.out") $ir"
}

echo "callgrind instructions per request, ${CONNS} connections, marginal of ${SHORT}s and ${LONG}s runs"
echo "server: nginx 'return 204;' (1 worker) on 127.0.0.1:${PORT}"
echo
printf '| %-16s | %9s | %9s | %15s | %15s | %8s | %7s |\n' \
  client "req short" "req long" "Ir short" "Ir long" "Ir/req" "vs wrk"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------ ----------- ----------- \
  ----------------- ----------------- ---------- ---------
WRK_PER=""
row() {
  local name=$1 s=$2 l=$3
  read -r ns is <<<"$s"
  read -r nl il <<<"$l"
  local per
  per=$(awk -v a="$is" -v b="$il" -v n="$ns" -v m="$nl" 'BEGIN{printf "%.0f", (b - a) / (m - n)}')
  [[ -z "$WRK_PER" ]] && WRK_PER=$per
  local vs
  vs=$(awk -v p="$per" -v w="$WRK_PER" 'BEGIN{printf "%.2f", p / w}')
  printf '| %-16s | %9s | %9s | %15s | %15s | %8s | %7s |\n' "$name" "$ns" "$nl" "$is" "$il" "$per" "${vs}x"
}
row wrk "$(run_wrk "$SHORT")" "$(run_wrk "$LONG")"
if [[ -n "${LOADGEN_BASELINE:-}" ]]; then
  row "loadgen baseline" "$(run_loadgen "$LOADGEN_BASELINE" "$SHORT")" \
    "$(run_loadgen "$LOADGEN_BASELINE" "$LONG")"
fi
row loadgen "$(run_loadgen "$LOADGEN" "$SHORT")" "$(run_loadgen "$LOADGEN" "$LONG")"
