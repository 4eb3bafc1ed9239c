#!/usr/bin/env bash
# Time and memory of `observer diagnose` on synthetic run directories.
#
# testkit/examples/gen_run.rs writes a six-step closed-loop run (plateau, a gc_pause every
# 20,000 requests, server CPU samples); each size is diagnosed in the same invocation so
# the figures compare side by side. Wall time and peak RSS come from /usr/bin/time -v.
#
# Usage: bench/diagnose.sh [REQUESTS...]     (default: 1000000 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 10000000)

cargo build --release -q -p observer --bin observer
cargo build --release -q -p satlab-testkit --example gen_run
BIN=target/release/observer
GEN=target/release/examples/gen_run
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

printf '%-12s %-12s %-10s %-12s %s\n' requests log_MiB wall_s max_RSS_MiB verdict
for n in "${SIZES[@]}"; do
  dir="$WORK/run-$n"
  "$GEN" "$dir" "$n" >/dev/null
  log_mib=$(( $(stat -c %s "$dir/loadgen/requests.bin") / 1048576 ))
  /usr/bin/time -v -o "$WORK/time.txt" "$BIN" diagnose "$dir" --format json --output "$WORK/d.json"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/time.txt")
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  verdict=$(grep -m1 -o '"headline": "[^"]*"' "$WORK/d.json" | cut -d'"' -f4)
  printf '%-12s %-12s %-10s %-12s %s\n' "$n" "$log_mib" "$wall" "$(( rss_kb / 1024 ))" "$verdict"
done
