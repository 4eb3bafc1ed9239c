#!/usr/bin/env bash
# Client CPU per request, loadgen against wrk, on a client-bound setup: nginx `return 204;`
# (one worker) on SERVER_CPU with the OTLP sink, each client on CLIENT_CPU capped at QUOTA
# of it (a cgroup CPU quota), so the server core keeps headroom whichever client is
# faster. loadgen runs with every feature on: a traceparent on every request, OTLP/gRPC
# to the live sink with --trace-sample SAMPLE (spans and the per-class duration metric),
# HdrHistograms, and the per-request log (--out).
#
# Each round runs loadgen, wrk, and wrk again as the A/A control, in the order of one row
# of a Williams design (over six rounds each runs in each place, and right after each
# other, equally often). Per run: requests, CPU (user + sys, GNU time), busy share = CPU /
# (QUOTA x wall), the hypervisor's steal on the client CPU. A round counts only when every
# run in it was at least 95% busy. Reported per counted round: loadgen/wrk CPU per request
# and RPS, and the control's wrk'/wrk; then their medians and ranges.
#
# Usage: bench/client-cost.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   QUOTA=0.6 SAMPLE=0.01 CLIENT_CPU=0 SERVER_CPU=1 LOADGEN=path/to/loadgen
# Needs: root (the cgroup), nginx, wrk, GNU time, python3, taskset.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-6}
SECS=${2:-5}
CONNS=${3:-64}
QUOTA=${QUOTA:-0.6}
SAMPLE=${SAMPLE:-0.01}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
PORT=${BENCH_PORT:-18191}
SINK_PORT=${BENCH_SINK_PORT:-18192}
URL="http://127.0.0.1:${PORT}/"
TMP=$(mktemp -d)
PIDS=()
CG=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n "$CG" ]]; then rmdir "$CG" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

for tool in nginx wrk python3 taskset; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

# The client's cgroup: v2 (cpu.max) or v1 (cpu.cfs_quota_us), period 10 ms.
PERIOD=10000
Q=$(python3 -c "print(int($QUOTA * $PERIOD))")
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  CG=/sys/fs/cgroup/satlab-client-cost
  mkdir -p "$CG" && echo "$Q $PERIOD" >"$CG/cpu.max"
elif [[ -d /sys/fs/cgroup/cpu ]]; then
  CG=/sys/fs/cgroup/cpu/satlab-client-cost
  mkdir -p "$CG" && echo "$PERIOD" >"$CG/cpu.cfs_period_us" && echo "$Q" >"$CG/cpu.cfs_quota_us"
else
  echo "needs a cgroup CPU controller (run as root)" >&2
  exit 1
fi

cargo build --release -q -p loadgen -p target-api --example otlp_sink
TARGET_DIR=${CARGO_TARGET_DIR:-target}
LOADGEN=${LOADGEN:-$TARGET_DIR/release/loadgen}

# shellcheck source=bench/lib/nginx204.sh
source bench/lib/nginx204.sh
# shellcheck source=bench/lib/orders.sh
source bench/lib/orders.sh
start_nginx204 "$TMP/nginx" "$PORT" "$SERVER_CPU" 4096
PIDS+=("$NGINX_PID")
taskset -c "$SERVER_CPU" "$TARGET_DIR/release/examples/otlp_sink" "127.0.0.1:${SINK_PORT}" \
  >"$TMP/sink.log" 2>&1 &
PIDS+=($!)
wait_port "$SINK_PORT"

steal() { awk -v c="cpu${CLIENT_CPU}" '$1 == c {print $9}' /proc/stat; }

# One run in the capped cgroup; appends "tool requests wall user sys steal_ticks extra".
run() {
  local tool=$1 out=$2
  local s0
  s0=$(steal)
  case "$tool" in
    loadgen)
      rm -rf "$TMP/rec"
      OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${SINK_PORT}" /usr/bin/time -f "%e %U %S" -o "$TMP/t" \
        sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG" taskset -c "$CLIENT_CPU" \
        "$LOADGEN" "$URL" --stages "${CONNS}:${SECS}s" --settle 0s --threads 1 \
        --trace-sample "$SAMPLE" --out "$TMP/rec" --quiet --json >"$TMP/lg.json"
      python3 - "$TMP/lg.json" >"$TMP/n" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(s["overall"]["requests"], f"log_dropped={s['request_log_dropped']},spans_dropped={s['spans_dropped']}")
PY
      ;;
    wrk | wrk-control)
      /usr/bin/time -f "%e %U %S" -o "$TMP/t" \
        sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG" taskset -c "$CLIENT_CPU" \
        wrk -t1 -c"$CONNS" -d"${SECS}s" "$URL" >"$TMP/wrk.txt"
      awk '/requests in/ {print $1, "-"}' "$TMP/wrk.txt" >"$TMP/n"
      ;;
  esac
  echo "$tool $(cut -d' ' -f1 "$TMP/n") $(cat "$TMP/t") $(($(steal) - s0)) $(cut -d' ' -f2 "$TMP/n")" >>"$out"
}

TOOLS=(loadgen wrk wrk-control)
ORDERS_TEXT=$(williams_orders 3)
mapfile -t ORDERS <<<"$ORDERS_TEXT"
if ((ROUNDS % ${#ORDERS[@]} != 0)); then
  echo "ROUNDS ($ROUNDS) is not a multiple of the design's ${#ORDERS[@]} rows: its balance is lost" >&2
fi
: >"$TMP/runs"
for r in $(seq 0 $((ROUNDS - 1))); do
  for i in ${ORDERS[$((r % ${#ORDERS[@]}))]}; do
    tool=${TOOLS[$i]}
    printf 'round %d %s\n' "$r" "$tool" >&2
    echo -n "$r " >>"$TMP/runs"
    run "$tool" "$TMP/runs"
  done
done

python3 - "$TMP/runs" "$QUOTA" "$CONNS" "$SECS" "$SAMPLE" "$(nproc)" <<'PY'
import statistics, sys
path, quota, conns, secs, sample, cpus = sys.argv[1], float(sys.argv[2]), *sys.argv[3:]
ticks = 100  # USER_HZ
rounds = {}
for line in open(path):
    r, tool, n, wall, user, sys_, steal, extra = line.split()
    n, wall, user, sys_ = int(n), float(wall), float(user), float(sys_)
    rounds.setdefault(int(r), {"order": []})["order"].append(tool)
    rounds[int(r)][tool] = dict(
        n=n, rps=n / wall, us=(user + sys_) / n * 1e6, user_us=user / n * 1e6,
        sys_us=sys_ / n * 1e6, busy=(user + sys_) / (quota * wall),
        steal=int(steal) / ticks / wall, extra=extra)
print(f"{conns} connections, {secs} s per run, client capped at {quota:.0%} of one CPU, "
      f"loadgen --trace-sample {sample} with OTLP and --out\n")
print("| round | order | loadgen µs/req (user+sys) | wrk µs/req | control µs/req | busy (lg/wrk/ctl) | steal | loadgen/wrk CPU | loadgen/wrk RPS | A/A wrk'/wrk | loadgen drops | counted |")
print("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|")
cpu, rps, aa = [], [], []
for r in sorted(rounds):
    d = rounds[r]
    lg, w, c = d["loadgen"], d["wrk"], d["wrk-control"]
    ok = all(x["busy"] >= 0.95 for x in (lg, w, c))
    order = d["order"]
    ratio, rr, a = lg["us"] / w["us"], lg["rps"] / w["rps"], c["us"] / w["us"]
    if ok:
        cpu.append(ratio); rps.append(rr); aa.append(a)
    print(f"| {r} | {', '.join(order)} | {lg['us']:.2f} ({lg['user_us']:.2f}+{lg['sys_us']:.2f}) "
          f"| {w['us']:.2f} ({w['user_us']:.2f}+{w['sys_us']:.2f}) | {c['us']:.2f} "
          f"| {lg['busy']:.0%}/{w['busy']:.0%}/{c['busy']:.0%} "
          f"| {max(x['steal'] for x in (lg, w, c)):.1%} | {ratio:.3f} | {rr:.3f} | {a:.3f} "
          f"| {lg['extra']} | {'yes' if ok else 'no'} |")
if cpu:
    f = lambda xs: f"{statistics.median(xs):.3f} (range {min(xs):.3f}–{max(xs):.3f})"
    print(f"\nCounted rounds: {len(cpu)} of {len(rounds)}")
    print(f"loadgen/wrk CPU per request: median {f(cpu)}")
    print(f"loadgen/wrk RPS:             median {f(rps)}")
    print(f"A/A control wrk'/wrk CPU:    median {f(aa)}")
else:
    print("\nNo round had every run at least 95% busy: nothing counted.")
PY
