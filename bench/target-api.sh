#!/usr/bin/env bash
# target-api: requests per second with telemetry off vs on, side by side in one run.
#
#   off   no OTEL_EXPORTER_OTLP_ENDPOINT: no exporter at all
#   off2  the same again: the A/A control (off2/off shows the bench's own noise; a ratio
#         counts only when the control is within ±3%)
#   100%  parentbased_always_on: every span, the metrics and the event records exported
#         over OTLP/gRPC to a local sink (target-api's examples/otlp_sink.rs)
#   1%    parentbased_traceidratio 0.01, same exporter
#
# The four servers run at once, each with one worker thread, all pinned to CPU 1; wrk and
# the sink share CPU 0. wrk loads one server at a time in short slices, cycling through the
# modes (the order rotated each cycle), so any disturbance on the machine hits every mode
# alike. Reported: the median RPS per mode and the median of the per-cycle ratios.
#
# Usage: bench/target-api.sh [CYCLES] [SLICE_SECONDS]   (defaults 18 2)
set -euo pipefail
cd "$(dirname "$0")/.."

CYCLES=${1:-18}
SLICE=${2:-2}
CONNS=${CONNS:-32}
PORT=${PORT:-18480}
SINK_PORT=${SINK_PORT:-14317}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

for tool in wrk taskset bc; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk util-linux bc)" >&2; exit 1; }
done
if [ "$(nproc)" -lt 2 ]; then
  echo "needs 2 CPUs to pin the server and the client apart" >&2; exit 1
fi

cargo build --release -q -p target-api --bin target-api --example otlp_sink
BIN=target/release/target-api
SINK=target/release/examples/otlp_sink
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

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

taskset -c "$CLIENT_CPU" "$SINK" "127.0.0.1:$SINK_PORT" >"$WORK/sink.out" 2>/dev/null &
SINK_PID=$!; PIDS+=("$SINK_PID")
wait_port "$SINK_PORT"

MODES=(off off2 on 1pct)
declare -A MODE_PORT MODE_PID
i=0
for mode in "${MODES[@]}"; do
  port=$((PORT + i)); i=$((i + 1))
  case $mode in
    off|off2) env=(env -u OTEL_EXPORTER_OTLP_ENDPOINT) ;;
    on)   env=(env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT" OTEL_TRACES_SAMPLER=parentbased_always_on) ;;
    1pct) env=(env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01) ;;
  esac
  "${env[@]}" OTEL_EXPORTER_OTLP_PROTOCOL=grpc taskset -c "$SERVER_CPU" \
    "$BIN" --listen "127.0.0.1:$port" --workers 1 2>"$WORK/$mode.err" &
  MODE_PID[$mode]=$!; PIDS+=("$!")
  MODE_PORT[$mode]=$port
  wait_port "$port"
done

load() { # port seconds -> rps
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${2}s" -s "$WORK/post.lua" \
    "http://127.0.0.1:$1/api/vector/add" | awk '/Requests\/sec/ {print $2}'
}

for mode in "${MODES[@]}"; do load "${MODE_PORT[$mode]}" 1 >/dev/null; done  # warm-up

declare -A RPS
RATIO_ON=() RATIO_1=() RATIO_AA=()
for c in $(seq "$CYCLES"); do
  # The order rotated each cycle, so no mode always comes first or last.
  order=()
  for k in 0 1 2 3; do order+=("${MODES[$(((c + k) % 4))]}"); done
  declare -A this=()
  for mode in "${order[@]}"; do
    sleep 0.3  # let the previous server's exporter drain its queue first
    this[$mode]=$(load "${MODE_PORT[$mode]}" "$SLICE")
    RPS[$mode]+="${this[$mode]} "
  done
  echo "cycle $c: off=${this[off]} off2=${this[off2]} on=${this[on]} 1pct=${this[1pct]}" >&2
  RATIO_AA+=("$(echo "${this[off2]} / ${this[off]}" | bc -l)")
  RATIO_ON+=("$(echo "${this[on]} / ${this[off]}" | bc -l)")
  RATIO_1+=("$(echo "${this[1pct]} / ${this[off]}" | bc -l)")
done

for mode in "${MODES[@]}"; do kill -TERM "${MODE_PID[$mode]}"; done
for mode in "${MODES[@]}"; do wait "${MODE_PID[$mode]}" || true; done
kill -TERM "$SINK_PID"; wait "$SINK_PID" || true

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
dropped() { local v; v=$(grep -o 'spans=[0-9]*' "$WORK/$1.err" | tail -1 | cut -d= -f2 || true); echo "${v:-0}"; }

off=$(median <<<"${RPS[off]}")
on=$(median <<<"${RPS[on]}")
one=$(median <<<"${RPS[1pct]}")
r_on=$(median <<<"${RATIO_ON[*]}")
r_one=$(median <<<"${RATIO_1[*]}")
r_aa=$(median <<<"${RATIO_AA[*]}")
received=$(sed -n 's/.*spans=\([0-9]*\).*/\1/p' "$WORK/sink.out")

echo
echo "$CYCLES cycles × ${SLICE}s slices per mode, $CONNS connections, server 1 worker on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
echo
echo "| telemetry | median RPS | median per-cycle ratio to off |"
echo "|---|---:|---:|"
printf '| off (no endpoint) | %.0f | 1.00 |\n' "$off"
printf '| off again (A/A control) | %.0f | %.2f |\n' "$(median <<<"${RPS[off2]}")" "$r_aa"
printf '| 100%% sampling, OTLP/gRPC to a local sink | %.0f | %.2f |\n' "$on" "$r_on"
printf '| 1%% ratio sampling, same exporter | %.0f | %.2f |\n' "$one" "$r_one"
echo
echo "spans received by the sink: ${received:-0}; not exported (queue full): 100% $(dropped on), 1% $(dropped 1pct)"
