#!/usr/bin/env bash
# Regenerate grafana/emitted-metrics.txt from a real run: observer serve, target-api (with
# the flags that make every instrument report: pool, pauses, recycles, bursts, shedding)
# and loadgen on loopback, a 4 s open-loop run at 200/s with every trace sampled, the
# record submitted and diagnosed; then the names in the run's otlp/ and on the observer's
# /metrics, through the emitted-metrics tool.
#
#   cargo build -p observer && cargo build -p satlab-tests --bin emitted-metrics
#   compose/emitted-metrics.sh [BIN_DIR] > grafana/emitted-metrics.txt   (default target/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cd "${1:-target/debug}" && pwd)
for b in observer emitted-metrics; do
  [[ -x $bin/$b ]] || { echo "missing $bin/$b: see the build line at the top of $0" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

api=127.0.0.1:39464
target=127.0.0.1:38080
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:34317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc
export OTEL_METRIC_EXPORT_INTERVAL=1000
"$bin/observer" serve --otlp-grpc 127.0.0.1:34317 --otlp-http 127.0.0.1:34318 \
  --listen "$api" --runs-dir "$work/runs" >"$work/observer.log" 2>&1 &
pids+=($!)
OTEL_SERVICE_NAME=target-api "$bin/observer" target-api --listen "$target" \
  --pool-size 4 --pool-hold 2ms --pause-every 100 --pause-duration 5ms \
  --recycle-every 150 --recycle-cost 5ms --burst-every 1s --burst-duration 50ms \
  --shed-above 2 --shed-status 429 >"$work/target.log" 2>&1 &
target_pid=$!
pids+=("$target_pid")
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$target/readyz" 2>/dev/null \
    && curl -fsS -o /dev/null "$api/healthz" 2>/dev/null && break
  sleep 0.2
done

OTEL_SERVICE_NAME=loadgen timeout 60 "$bin/observer" loadgen "http://$target/api/vector/add" \
  --rate 200/s --duration 4s --trace-sample 1 --body '{"a":[1,2],"b":[3,4]}' \
  --quiet --out "$work/record" >"$work/loadgen.log" 2>&1 \
  || { cat "$work/loadgen.log" >&2; exit 1; }
kill -TERM "$target_pid"   # target-api exports its last metrics on the way out
for _ in $(seq 50); do kill -0 "$target_pid" 2>/dev/null || break; sleep 0.2; done
sleep 2

"$bin/observer" submit "$work/record" --to "http://$api" --id emitted >"$work/submit.log" 2>&1 \
  || { cat "$work/submit.log" >&2; exit 1; }
curl -fsS -o /dev/null -X POST "$api/api/runs/emitted/diagnose" \
  || echo "note: the diagnosis failed; the run's otlp/ files are written all the same" >&2
curl -fsS "$api/metrics" >"$work/observer-metrics.txt"
"$bin/emitted-metrics" "$work/runs/emitted" --scrape "observer=$work/observer-metrics.txt"
