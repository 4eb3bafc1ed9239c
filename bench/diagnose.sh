#!/usr/bin/env bash
# Time and memory of `observer diagnose` on synthetic run directories.
#
# testkit/examples/gen_run.rs writes a six-step closed-loop run (plateau, a gc_pause every
# 20,000 requests, server CPU samples); each size is diagnosed in the same invocation so
# the figures compare side by side. Wall time and peak RSS come from /usr/bin/time -v.
#
# With DIAGNOSE_BASELINE=/path/to/another/observer, each run is also diagnosed by that
# build, timed the same way, and the two JSON diagnoses are compared byte for byte.
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

BASE=${DIAGNOSE_BASELINE:-}
[ -z "$BASE" ] || [ -x "$BASE" ] || { echo "DIAGNOSE_BASELINE=$BASE is not an executable"; exit 1; }

# Diagnose $2 with binary $1 into $3; prints "wall_s max_RSS_MiB".
measure() {
  /usr/bin/time -v -o "$WORK/time.txt" "$1" diagnose "$2" --format json --output "$3"
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; w=s}
              /Maximum resident set size/ {r=int($2/1024)} END {print w, r}' "$WORK/time.txt"
}

printf '%-10s %-8s %-8s %-8s %-s\n' requests log_MiB wall_s RSS_MiB verdict
for n in "${SIZES[@]}"; do
  dir="$WORK/run-$n"
  "$GEN" "$dir" "$n" >/dev/null
  log_mib=$(( $(stat -c %s "$dir/loadgen/requests.bin") / 1048576 ))
  read -r wall rss < <(measure "$BIN" "$dir" "$WORK/d.json")
  verdict=$(grep -m1 -o '"headline": "[^"]*"' "$WORK/d.json" | cut -d'"' -f4)
  printf '%-10s %-8s %-8s %-8s %s\n' "$n" "$log_mib" "$wall" "$rss" "$verdict"
  if [ -n "$BASE" ]; then
    read -r bwall brss < <(measure "$BASE" "$dir" "$WORK/base.json")
    same=$(cmp -s "$WORK/d.json" "$WORK/base.json" && echo "identical JSON" || echo "JSON DIFFERS")
    printf '%-10s %-8s %-8s %-8s baseline: %s\n' "" "" "$bwall" "$brss" "$same"
  fi
  rm -rf "$dir"
done
