#!/usr/bin/env bash
# What merging a distributed run costs the observer, for N loadgens.
#
# testkit/examples/gen_run.rs writes one loadgen's record (six closed-loop steps, REQUESTS
# requests, per-step histograms, requests.bin); it is copied in as each of N parts of a
# distributed run, each part's clock a little later than the last, and `observer merge`
# merges them (histograms added, logs merged by send time, seconds recomputed). Wall time
# and peak RSS come from /usr/bin/time -v; upload size is what each loadgen sends.
#
# Usage: bench/merge.sh [REQUESTS_PER_LOADGEN] [N...]   (default: 1000000 1 2 4 8)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
PER=${1:-1000000}
shift || true
NS=("$@"); [ ${#NS[@]} -gt 0 ] || NS=(1 2 4 8)

cargo build --release -q -p observer --bin observer
cargo build --release -q -p satlab-testkit --example gen_run
BIN=target/release/observer
GEN=target/release/examples/gen_run
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$GEN" "$WORK/one" "$PER" >/dev/null
part="$WORK/one/loadgen"
upload=$(du -cb "$part"/summary.json "$part"/histograms.json "$part"/requests.bin \
  $( [ -f "$part/seconds.jsonl" ] && echo "$part/seconds.jsonl") | tail -1 | cut -f1)
start=$(grep -o '"started_unix_ns": *[0-9]*' "$part/summary.json" | grep -o '[0-9]*$')
span_s=$(awk -v s="$start" -v e="$(grep -o '"ended_unix_ns": *[0-9]*' "$part/summary.json" | grep -o '[0-9]*$')" \
  'BEGIN {printf "%.1f", (e - s) / 1e9}')
echo "one loadgen's record: $PER requests over ${span_s}s, upload $((upload / 1024)) KiB"

printf '%-4s %-10s %-8s %-8s %-12s\n' N requests wall_s RSS_MiB ns/request
for n in "${NS[@]}"; do
  run="$WORK/run-$n"
  mkdir -p "$run/loadgen/parts"
  parts=""
  for k in $(seq 0 $((n - 1))); do
    cp -r "$part" "$run/loadgen/parts/$k"
    # Each loadgen's clock starts 3 ms after the previous one's.
    sed -i "s/\"started_unix_ns\": *$start/\"started_unix_ns\": $((start + k * 3000000))/" \
      "$run/loadgen/parts/$k/summary.json"
    parts+="${parts:+,}{\"loadgen\":$k,\"spec\":\"\",\"merged\":false}"
  done
  printf '{"schema":"satlab.distributed/1","run":"bench","plan":"","planned":%d,"ran":%d,"start_unix_ns":%d,"start_skew_ms":0,"clock":"","parts":[%s]}\n' \
    "$n" "$n" "$start" "$parts" > "$run/loadgen/distributed.json"
  /usr/bin/time -v -o "$WORK/time.txt" "$BIN" merge "$run" 2>"$WORK/merge.txt"
  read -r wall rss < <(awk -F': ' '/Elapsed \(wall clock\)/ {k=split($2,a,":"); s=0; for(i=1;i<=k;i++) s=s*60+a[i]; w=s}
              /Maximum resident set size/ {r=int($2/1024)} END {print w, r}' "$WORK/time.txt")
  total=$((n * PER))
  printf '%-4s %-10s %-8s %-8s %-12s\n' "$n" "$total" "$wall" "$rss" \
    "$(awk -v w="$wall" -v t="$total" 'BEGIN {printf "%.0f", w * 1e9 / t}')"
  grep -q "merged $n of $n loadgens" "$WORK/merge.txt" || { cat "$WORK/merge.txt"; exit 1; }
  rm -rf "$run"
done
