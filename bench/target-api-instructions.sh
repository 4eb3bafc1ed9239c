#!/usr/bin/env bash
# target-api's cost per request in instructions (valgrind callgrind), which a busy machine
# does not move: telemetry off, 1% of requests traced, every request traced.
#
#   off   no OTEL_EXPORTER_OTLP_ENDPOINT: no exporter at all
#   1%    OTLP/gRPC to a local sink (target-api's examples/otlp_sink.rs); loadgen marks 1%
#         of its traceparents sampled, and target-api's default parent-based sampler
#         follows them, as in the lab
#   100%  the same, every traceparent sampled
#
# loadgen (not under valgrind) sends POST /api/vector/add with a traceparent on every
# request, closed loop at CONNECTIONS, for SHORT then LONG seconds against a fresh
# target-api (--workers 1) under callgrind each time; instructions per request are the
# marginal between the two runs, so start-up, export of the last batch and shutdown cancel
# out. The instructions of the exporter threads count: they are the telemetry's cost.
#
# Usage: bench/target-api-instructions.sh [SHORT_S] [LONG_S] [CONNECTIONS]
#   TARGET_BASELINE=/path/to/target-api adds rows for another build.
# Needs: valgrind, python3 (apt-get install valgrind python3).
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=${1:-2}
LONG=${2:-6}
CONNS=${3:-8}
PORT=${BENCH_PORT:-18290}
SINK_PORT=${SINK_PORT:-14391}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

for tool in valgrind python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done
cargo build --release -q -p loadgen -p target-api --bin loadgen --bin target-api --example otlp_sink
LOADGEN="$TARGET_DIR/release/loadgen"
TARGET="$TARGET_DIR/release/target-api"
SINK="$TARGET_DIR/release/examples/otlp_sink"

wait_port() {
  for _ in $(seq 600); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  return 1
}

"$SINK" "127.0.0.1:$SINK_PORT" >/dev/null 2>&1 &
PIDS+=("$!")
wait_port "$SINK_PORT"

# One run: target-api BIN in MODE under callgrind, loaded for DUR seconds; prints
# "<requests> <instructions>".
run() {
  local bin=$1 mode=$2 dur=$3 out="$TMP/cg.out" sample
  rm -f "$out"
  local env=(env -u OTEL_EXPORTER_OTLP_ENDPOINT)
  case $mode in
    off) sample=0.01 ;;
    1%) sample=0.01; env=(env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT") ;;
    100%) sample=1.0; env=(env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT") ;;
  esac
  "${env[@]}" OTEL_EXPORTER_OTLP_PROTOCOL=grpc valgrind --tool=callgrind \
    --callgrind-out-file="$out" "$bin" --listen "127.0.0.1:$PORT" --workers 1 \
    >/dev/null 2>"$TMP/valgrind.log" &
  local pid=$!
  wait_port "$PORT"
  env -u OTEL_EXPORTER_OTLP_ENDPOINT "$LOADGEN" "http://127.0.0.1:$PORT/api/vector/add" \
    --stages "${CONNS}:${dur}s" --settle 0s --trace-sample "$sample" --quiet --json \
    --body '{"a":[1,2,3,4,5,6,7,8],"b":[8,7,6,5,4,3,2,1]}' >"$TMP/loadgen.json"
  kill -TERM "$pid"
  wait "$pid" || true
  local n ir
  n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["overall"]["requests"])' \
    "$TMP/loadgen.json")
  ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  echo "$n $ir"
}

echo "callgrind instructions per request of target-api (--workers 1), POST /api/vector/add,"
echo "${CONNS} connections, marginal of ${SHORT}s and ${LONG}s runs"
echo
printf '| %-18s | %-9s | %9s | %9s | %15s | %15s | %8s | %7s |\n' \
  build telemetry "req short" "req long" "Ir short" "Ir long" "Ir/req" "vs off"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------------------- ----------- ----------- ----------- \
  ----------------- ----------------- ---------- ---------
rows() {
  local name=$1 bin=$2 off_per=""
  for mode in off 1% 100%; do
    local s l ns is nl il per vs
    s=$(run "$bin" "$mode" "$SHORT")
    l=$(run "$bin" "$mode" "$LONG")
    read -r ns is <<<"$s"
    read -r nl il <<<"$l"
    per=$(awk -v a="$is" -v b="$il" -v n="$ns" -v m="$nl" 'BEGIN{printf "%.0f", (b - a) / (m - n)}')
    [[ -z "$off_per" ]] && off_per=$per
    vs=$(awk -v p="$per" -v o="$off_per" 'BEGIN{printf "%.2f", p / o}')
    printf '| %-18s | %-9s | %9s | %9s | %15s | %15s | %8s | %7s |\n' \
      "$name" "$mode" "$ns" "$nl" "$is" "$il" "$per" "${vs}x"
  done
}
if [[ -n "${TARGET_BASELINE:-}" ]]; then
  rows baseline "$TARGET_BASELINE"
fi
rows target-api "$TARGET"
