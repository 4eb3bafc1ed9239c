#!/usr/bin/env bash
# Sampling overhead: the observer's own CPU while it samples two processes (a busy loop
# and an idle sleeper) at 10 Hz and, side by side in the same run, at 100 Hz; as a
# percentage of one core. Each rate samples for SECONDS.
#
# Usage: bench/sampling-overhead.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-30}"
cargo build --release -q -p observer --bin observer
BIN=target/release/observer

sh -c 'while :; do :; done' & BUSY=$!
sleep 3600 & IDLE=$!
trap 'kill $BUSY $IDLE 2>/dev/null || true' EXIT

echo "observer sample --pid BUSY --pid IDLE, ${DUR}s per rate"
TMP=$(mktemp -d)
for hz in 10 100; do
  /usr/bin/time -o "$TMP/time" -f "%U %S" \
    "$BIN" sample --pid $BUSY --pid $IDLE --hz $hz --duration "${DUR}s" > "$TMP/samples"
  read -r user sys < "$TMP/time"
  awk -v hz="$hz" -v u="$user" -v s="$sys" -v d="$DUR" -v n="$(wc -l < "$TMP/samples")" \
    'BEGIN{printf "  %3d Hz: %d samples, %.2f s user + %.2f s system = %.2f%% of one core\n", hz, n, u, s, (u+s)/d*100}'
done
rm -rf "$TMP"
