#!/usr/bin/env bash
# The docker lab's data path without Docker: observer serve and target-api on loopback,
# then compose/loadgen-run.sh runs a workshop scenario exactly as the loadgen service
# does (admin API, load plan, observer submit). Checks that the observer received OTLP
# from both programs and published a verdict on /metrics.
#
#   cargo build -p observer -p target-api -p loadgen
#   compose/smoke-loopback.sh [SCENARIO] [BIN_DIR]     (defaults: gc-spikes, target/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-gc-spikes}
bin=$(cd "${2:-target/debug}" && pwd)
for b in observer target-api loadgen; do
  [[ -x $bin/$b ]] || { echo "missing $bin/$b: run cargo build -p $b" >&2; exit 2; }
done
work=$(mktemp -d)
token=smoke-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin" "$work/runs" "$work/records"
ln -s "$bin/loadgen" "$work/bin/loadgen"
ln -s "$bin/observer" "$work/bin/observer"
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:24317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc
export OTEL_METRIC_EXPORT_INTERVAL=1000

"$bin/observer" serve --otlp-grpc 127.0.0.1:24317 --otlp-http 127.0.0.1:24318 \
  --listen 127.0.0.1:29464 --runs-dir "$work/runs" >"$work/observer.log" 2>&1 &
pids+=($!)
OTEL_SERVICE_NAME=target-api "$bin/target-api" --listen 127.0.0.1:28080 --admin-token "$token" \
  --workers 2 --pool-size 8 >"$work/target.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -fsS -o /dev/null 127.0.0.1:28080/readyz 2>/dev/null \
    && curl -fsS -o /dev/null 127.0.0.1:29464/healthz 2>/dev/null && break
  sleep 0.2
done

PATH="$work/bin:$PATH" OTEL_SERVICE_NAME=loadgen \
  SATLAB_TARGET_URL=http://127.0.0.1:28080/api/vector/add \
  SATLAB_ADMIN_URL=http://127.0.0.1:28080/admin/config SATLAB_ADMIN_TOKEN="$token" \
  SATLAB_OBSERVER_URL=http://127.0.0.1:29464 SATLAB_RECORDS_DIR="$work/records" \
  SATLAB_SCENARIOS_DIR=scenarios SATLAB_TRACE_SAMPLE=0.1 \
  timeout 300 bash compose/loadgen-run.sh scenario "$scenario" >"$work/loadgen.log" 2>&1 \
  || { cat "$work/loadgen.log" >&2; exit 1; }

metrics=$(curl -fsS 127.0.0.1:29464/metrics)
echo "$metrics" | grep -E '^satlab_observer_(verdict|otlp_received_total|server_events_total)'
echo "$metrics" | grep -q '^satlab_observer_verdict{' || { echo "FAIL: no verdict" >&2; exit 1; }
for s in traces metrics logs; do
  echo "$metrics" | grep -qE "^satlab_observer_otlp_received_total\{signal=\"$s\"\} [1-9]" \
    || { echo "FAIL: no $s received" >&2; exit 1; }
done
echo "ok: $scenario through the loadgen script, OTLP into observer serve, verdict on /metrics"
