#!/usr/bin/env bash
# target-api: requests per second with telemetry off vs on, side by side in one run.
#
#   off   no OTEL_EXPORTER_OTLP_ENDPOINT: no exporter at all
#   on    100% sampling (parentbased_always_on), spans/metrics/logs exported over OTLP/gRPC
#         to a local sink (target-api's examples/otlp_sink.rs)
#   1%    parentbased_traceidratio 0.01, same exporter
#
# The server runs with one worker pinned to CPU 1; wrk and the sink share CPU 0. The modes
# are interleaved for ROUNDS rounds and the median per mode is reported, so drift on the
# machine hits every mode alike. Usage: bench/target-api.sh [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-10}
ROUNDS=${2:-3}
CONNS=${CONNS:-32}
PORT=${PORT:-18480}
SINK_PORT=${SINK_PORT:-14317}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk util-linux)" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
  echo "needs 2 CPUs to pin the server and the client apart" >&2; exit 1
fi

cargo build --release -q -p target-api --bin target-api --example otlp_sink
BIN=target/release/target-api
SINK=target/release/examples/otlp_sink
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"a":[1,2,3,4,5,6,7,8],"b":[8,7,6,5,4,3,2,1]}'
wrk.headers["Content-Type"] = "application/json"
LUA

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "port $1 did not open" >&2; return 1
}

# run MODE -> prints "rps spans_received dropped_note"
run() {
  local mode=$1
  local -a env=(env -u OTEL_EXPORTER_OTLP_ENDPOINT)
  local sink_pid=""
  if [ "$mode" != off ]; then
    taskset -c "$CLIENT_CPU" "$SINK" "127.0.0.1:$SINK_PORT" >"$WORK/sink.out" 2>/dev/null &
    sink_pid=$!
    wait_port "$SINK_PORT"
    env=(env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT" OTEL_EXPORTER_OTLP_PROTOCOL=grpc)
    if [ "$mode" = on ]; then
      env+=(OTEL_TRACES_SAMPLER=parentbased_always_on)
    else
      env+=(OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01)
    fi
  fi
  "${env[@]}" taskset -c "$SERVER_CPU" "$BIN" --listen "127.0.0.1:$PORT" --workers 1 2>"$WORK/server.err" &
  local server_pid=$!
  wait_port "$PORT"
  # Warm-up, then the measured run.
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s -s "$WORK/post.lua" "http://127.0.0.1:$PORT/api/vector/add" >/dev/null
  local rps
  rps=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$WORK/post.lua" \
        "http://127.0.0.1:$PORT/api/vector/add" | awk '/Requests\/sec/ {print $2}')
  kill -TERM "$server_pid"; wait "$server_pid" || true
  local spans=0
  if [ -n "$sink_pid" ]; then
    kill -TERM "$sink_pid"; wait "$sink_pid" || true
    spans=$(sed -n 's/.*spans=\([0-9]*\).*/\1/p' "$WORK/sink.out")
  fi
  local dropped
  dropped=$(grep -o 'spans=[0-9]*' "$WORK/server.err" | tail -1 | cut -d= -f2 || true)
  echo "$rps ${spans:-0} ${dropped:-0}"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A RPS SPANS DROPS
for r in $(seq "$ROUNDS"); do
  for mode in off on 1pct; do
    read -r rps spans dropped < <(run "$mode")
    echo "round $r  $mode  rps=$rps  spans_received=$spans  spans_dropped=$dropped" >&2
    RPS[$mode]+="$rps "
    SPANS[$mode]=$spans
    DROPS[$mode]=$dropped
  done
done

off=$(tr ' ' '\n' <<<"${RPS[off]}" | grep . | median)
on=$(tr ' ' '\n' <<<"${RPS[on]}" | grep . | median)
one=$(tr ' ' '\n' <<<"${RPS[1pct]}" | grep . | median)
echo
echo "| telemetry | RPS (median of $ROUNDS × ${SECS}s) | ratio to off | spans received (last round) | spans dropped (last round) |"
echo "|---|---:|---:|---:|---:|"
printf '| off (no endpoint) | %.0f | 1.00 | - | - |\n' "$off"
printf '| 100%% sampling, OTLP/gRPC to a local sink | %.0f | %.2f | %s | %s |\n' "$on" "$(echo "$on / $off" | bc -l)" "${SPANS[on]}" "${DROPS[on]}"
printf '| 1%% ratio sampling, same exporter | %.0f | %.2f | %s | %s |\n' "$one" "$(echo "$one / $off" | bc -l)" "${SPANS[1pct]}" "${DROPS[1pct]}"
