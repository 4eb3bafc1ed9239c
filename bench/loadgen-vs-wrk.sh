#!/usr/bin/env bash
# loadgen vs wrk vs oha, side by side in one run: the same target (target-api, release),
# the same connection count, the load tool pinned to one CPU and the server to another.
# Also measures loadgen's peak RSS with 5000 concurrent workers.
#
# Usage: bench/loadgen-vs-wrk.sh [DURATION_S] [CONNECTIONS] [ROUNDS]
# Needs: wrk (apt-get install wrk), GNU time (apt-get install time), python3, taskset
# (util-linux); oha is installed with `cargo install oha --locked` into
# ~/.cache/satlab-oha when missing (a few minutes, once).
# Results are printed as a Markdown table, ready for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${1:-10}
CONNS=${2:-50}
ROUNDS=${3:-2}
PORT=${BENCH_PORT:-18180}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
BODY='{"a":[1,2],"b":[3,4]}'
URL="http://127.0.0.1:${PORT}/api/vector/add"
OHA_ROOT=${OHA_ROOT:-$HOME/.cache/satlab-oha}
OHA="$OHA_ROOT/bin/oha"
TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

for tool in wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
if [[ ! -x "$OHA" ]]; then
  echo "installing oha into $OHA_ROOT (cargo install oha --locked) ..." >&2
  cargo install oha --locked --root "$OHA_ROOT" >&2
fi

cargo build --release -q -p loadgen -p target-api
LOADGEN=target/release/loadgen
SERVER_DESC="target-api (release, 1 worker thread)"
if [[ -x target/release/target-api ]]; then
  taskset -c "$SERVER_CPU" target/release/target-api --listen "127.0.0.1:${PORT}" --workers 1 \
    >"$TMP/server.log" 2>&1 &
else
  cargo build --release -q -p loadgen --example hello_server
  SERVER_DESC="loadgen/examples/hello_server (release, 1 thread)"
  taskset -c "$SERVER_CPU" target/release/examples/hello_server "127.0.0.1:${PORT}" \
    >"$TMP/server.log" 2>&1 &
fi
SERVER_PID=$!
for _ in $(seq 100); do
  if (echo >"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then break; fi
  sleep 0.1
done

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '${BODY}'
wrk.headers["Content-Type"] = "application/json"
LUA

# Each run: "<rps> <max_rss_kib> <user+sys CPU seconds>".
run_loadgen() {
  /usr/bin/time -f "%M %U %S" -o "$TMP/rss" taskset -c "$CLIENT_CPU" "$LOADGEN" "$URL" \
    --body "$BODY" --stages "${CONNS}:${DUR}s" --settle 0s --threads 1 --quiet --json \
    >"$TMP/lg.json"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["overall"]["rps"])' "$TMP/lg.json" |
    tr '\n' ' '
  awk '{print $1, $2 + $3}' "$TMP/rss"
}
run_wrk() {
  /usr/bin/time -f "%M %U %S" -o "$TMP/rss" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" \
    -s "$TMP/post.lua" "$URL" >"$TMP/wrk.txt"
  awk '/Requests\/sec/ {printf "%s ", $2}' "$TMP/wrk.txt"
  awk '{print $1, $2 + $3}' "$TMP/rss"
}
run_oha() {
  /usr/bin/time -f "%M %U %S" -o "$TMP/rss" taskset -c "$CLIENT_CPU" "$OHA" -z "${DUR}s" -c "$CONNS" \
    --no-tui --worker-threads 1 --output-format json -m POST -d "$BODY" \
    -H "content-type: application/json" "$URL" >"$TMP/oha.json"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' \
    "$TMP/oha.json" | tr '\n' ' '
  awk '{print $1, $2 + $3}' "$TMP/rss"
}

declare -A RPS RSS CPU
for r in $(seq "$ROUNDS"); do
  for tool in loadgen wrk oha; do
    read -r rps rss cpu < <("run_$tool")
    # Client CPU per request, µs: independent of whether the server is the bottleneck.
    per=$(python3 -c "print(f'{float(\"$cpu\") * 1e6 / (float(\"$rps\") * $DUR):.2f}')")
    RPS[$tool]="${RPS[$tool]:-} $rps"
    RSS[$tool]="${RSS[$tool]:-} $rss"
    CPU[$tool]="${CPU[$tool]:-} $per"
    echo "round $r: $tool $rps rps, max RSS ${rss} KiB, ${per} µs CPU/request" >&2
  done
done

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
LG=$(median ${RPS[loadgen]}); WRK=$(median ${RPS[wrk]}); OHAR=$(median ${RPS[oha]})

echo
echo "Target: $SERVER_DESC on CPU $SERVER_CPU; load tools on CPU $CLIENT_CPU, 1 thread, $CONNS connections, ${DUR}s x $ROUNDS rounds (median)."
echo
echo "| tool | RPS (median) | RPS per round | vs wrk | client CPU µs/request (median) | max RSS (KiB) |"
echo "|---|---:|---|---:|---:|---:|"
for tool in loadgen wrk oha; do
  m=$(median ${RPS[$tool]})
  ratio=$(python3 -c "print(f'{float(\"$m\")/float(\"$WRK\"):.2f}x')")
  rss=$(python3 -c 'import sys; print(max(int(x) for x in sys.argv[1:]))' ${RSS[$tool]})
  cpu=$(median ${CPU[$tool]})
  printf "| %s | %.0f | %s | %s | %.2f | %s |\n" "$tool" "$m" "$(echo ${RPS[$tool]} | xargs printf '%.0f ')" "$ratio" "$cpu" "$rss"
done
python3 -c "print(f'\nloadgen/wrk = {float(\"$LG\")/float(\"$WRK\"):.2f}, loadgen/oha = {float(\"$LG\")/float(\"$OHAR\"):.2f}')"

# Memory: 5000 concurrent workers against a 200 ms I/O delay (all 5000 in flight).
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
taskset -c "$SERVER_CPU" target/release/target-api --listen "127.0.0.1:${PORT}" --workers 1 \
  --io-delay 200ms >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  if (echo >"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then break; fi
  sleep 0.1
done
/usr/bin/time -f "%M" -o "$TMP/rss" taskset -c "$CLIENT_CPU" "$LOADGEN" "$URL" --body "$BODY" \
  --stages 5000:8s --settle 2s --threads 1 --quiet --json --out "$TMP/mem" >"$TMP/mem.json"
python3 - "$TMP/mem.json" "$(cat "$TMP/rss")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
o = s["steps"][0]
print(f"\n5000 workers: max RSS {int(sys.argv[2]) / 1024:.1f} MiB, {o['rps']:.0f} RPS, "
      f"p50 {o['latency']['p50_us'] / 1000:.1f} ms, N_eff {o['n_eff']:.0f}, "
      f"errors {o['errors']}, in-flight mean {o['in_flight_mean']:.0f}")
PY
