#!/usr/bin/env bash
# OTLP ingest rate of the observer's receiver, spans/s on one core.
#
# `observer serve` is pinned to CPU 0, the load (examples/otlp_flood.rs) to the other
# CPUs; each protocol is flooded for SECONDS with 512-span batches from 4 concurrent
# exporters. Both protocols run in the same invocation so they compare side by side.
#
# Usage: bench/otlp-ingest.sh [SECONDS]     (needs taskset and at least 2 CPUs)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
command -v taskset >/dev/null || { echo "needs taskset (apt-get install util-linux)"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "needs at least 2 CPUs"; exit 1; }

cargo build --release -q -p observer --bin observer --example otlp_flood
BIN=target/release/observer
FLOOD=target/release/examples/otlp_flood
RUNS=$(mktemp -d)
trap 'kill "$SERVE" 2>/dev/null || true; rm -rf "$RUNS"' EXIT

GRPC=127.0.0.1:24317; HTTP=127.0.0.1:24318; API=127.0.0.1:29464
taskset -c 0 "$BIN" serve --otlp-grpc $GRPC --otlp-http $HTTP --listen $API --runs-dir "$RUNS" 2>/dev/null &
SERVE=$!
for _ in $(seq 50); do curl -sf "http://$API/healthz" >/dev/null && break; sleep 0.1; done

echo "observer serve pinned to CPU 0; load on CPUs 1-$(( $(nproc) - 1 )); ${SECONDS_PER_RUN}s per protocol"
for proto in grpc http; do
  addr=$GRPC; [ "$proto" = http ] && addr=$HTTP
  cpu0=$(awk '{print $14+$15}' /proc/$SERVE/stat)
  line=$(taskset -c 1-$(( $(nproc) - 1 )) "$FLOOD" "$proto" "$addr" "$SECONDS_PER_RUN" 4 512)
  cpu1=$(awk '{print $14+$15}' /proc/$SERVE/stat)
  echo "  $line"
  # spans/s divided by the observer's CPU use = spans per second of one fully used core.
  echo "$line" | awk -v a="$cpu0" -v b="$cpu1" -v s="$SECONDS_PER_RUN" -v hz="$(getconf CLK_TCK)" \
    '{rate=$8; cores=(b-a)/hz/s; printf "  observer CPU %.2f cores -> %.0f spans per observer CPU-second\n", cores, (cores>0 ? rate/cores : 0)}'
done
echo "accepted by the receiver:"
curl -s "http://$API/metrics" | grep '^satlab_observer_otlp_received_total{signal="traces"}'
