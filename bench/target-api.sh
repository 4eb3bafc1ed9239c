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
# modes (each cycle in the order of one row of a Williams design: over four cycles each
# mode runs in each place, and right after each other mode, once), so any disturbance on
# the machine hits every mode alike. Per slice: RPS, the server's CPU time per request
# (all its threads, from /proc schedstat, counted until 0.3 s after the slice so its
# exporter's drain counts; steal is not in it) and the steal on the server's CPU.
# Reported: per mode, the median RPS, the server's busy share, and the medians (ranges) of
# the per-cycle ratios to off of RPS and of requests per server CPU-second.
#
# The telemetry servers export a partial batch after 200 ms (OTEL_BSP_SCHEDULE_DELAY), so
# what a slice queued is sent within the 0.3 s its CPU is still counted.
#
# Usage: bench/target-api.sh [CYCLES] [SLICE_SECONDS]   (defaults 16 2; CYCLES a multiple
# of 4, the design's rows)
set -euo pipefail
cd "$(dirname "$0")/.."

CYCLES=${1:-16}
SLICE=${2:-2}
CONNS=${CONNS:-32}
PORT=${PORT:-18480}
SINK_PORT=${SINK_PORT:-14317}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}

for tool in wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk util-linux python3)" >&2; exit 1; }
done
if ((CYCLES < 4 || CYCLES % 4 != 0)); then
  echo "CYCLES must be a multiple of 4 (the Williams design's rows), not $CYCLES" >&2; exit 2
fi
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

# shellcheck source=bench/lib/ports.sh
source bench/lib/ports.sh
# shellcheck source=bench/lib/orders.sh
source bench/lib/orders.sh

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
  "${env[@]}" OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_BSP_SCHEDULE_DELAY=200 taskset -c "$SERVER_CPU" \
    "$BIN" --listen "127.0.0.1:$port" --workers 1 2>"$WORK/$mode.err" &
  MODE_PID[$mode]=$!; PIDS+=("$!")
  MODE_PORT[$mode]=$port
  wait_port "$port"
done

load() { # port seconds -> "rps requests"
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${2}s" -s "$WORK/post.lua" \
    "http://127.0.0.1:$1/api/vector/add" |
    awk '/requests in/ {n = $1} /Requests\/sec/ {r = $2} END {print r, n}'
}
# CPU time (ns) a process's threads have run: all of them, the exporter's too. Steal is
# not in it, so CPU per request holds where RPS moves with the hypervisor.
run_ns() {
  kill -0 "$1" 2>/dev/null || { echo "server $1 is gone" >&2; exit 1; }
  { cat /proc/"$1"/task/*/schedstat 2>/dev/null || :; } | awk '{s += $1} END {printf "%.0f", s}'
}
# Ticks stolen from CPU $SERVER_CPU, and all its ticks.
steal() { awk -v c="cpu$SERVER_CPU" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t}' /proc/stat; }

for mode in "${MODES[@]}"; do load "${MODE_PORT[$mode]}" 1 >/dev/null; done  # warm-up

# Appends "cycle mode rps requests server_cpu_ns steal_ticks all_ticks" per slice.
ORDERS_TEXT=$(williams_orders 4)
mapfile -t ORDERS <<<"$ORDERS_TEXT"
: >"$WORK/slices"
for c in $(seq "$CYCLES"); do
  # One row of a Williams design a cycle: no mode always comes first, or always right
  # after the 100% server (whose exporter may still be draining its queue).
  order=()
  for k in ${ORDERS[$(((c - 1) % 4))]}; do order+=("${MODES[$k]}"); done
  for mode in "${order[@]}"; do
    pid=${MODE_PID[$mode]}
    read -r s0 a0 < <(steal)
    n0=$(run_ns "$pid")
    read -r rps n < <(load "${MODE_PORT[$mode]}" "$SLICE")
    ((${n:-0} > 0)) || { echo "cycle $c: $mode gave no requests" >&2; exit 1; }
    sleep 0.3  # the server's CPU counted until its exporter has drained its queue
    read -r s1 a1 < <(steal)
    echo "$c $mode $rps $n $(($(run_ns "$pid") - n0)) $((s1 - s0)) $((a1 - a0))" >>"$WORK/slices"
  done
  echo "cycle $c: ${order[*]}" >&2
done

for mode in "${MODES[@]}"; do kill -TERM "${MODE_PID[$mode]}"; done
for mode in "${MODES[@]}"; do wait "${MODE_PID[$mode]}" || true; done
kill -TERM "$SINK_PID"; wait "$SINK_PID" || true

dropped() { local v; v=$(grep -o 'spans=[0-9]*' "$WORK/$1.err" | tail -1 | cut -d= -f2 || true); echo "${v:-0}"; }
received=$(sed -n 's/.*spans=\([0-9]*\).*/\1/p' "$WORK/sink.out")

echo
echo "$CYCLES cycles × ${SLICE}s slices per mode, $CONNS connections, server 1 worker on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
echo
python3 - "$WORK/slices" <<'PY'
import statistics, sys
from collections import defaultdict
cyc = defaultdict(dict)
for line in open(sys.argv[1]):
    c, mode, rps, n, ns, st, tot = line.split()
    cyc[int(c)][mode] = dict(rps=float(rps), us=int(ns) / 1e3 / int(n),
                             steal=int(st) / max(int(tot), 1))
print("| cycle | RPS off / off2 / 100% / 1% | server µs/req off / off2 / 100% / 1% | steal (server CPU, max) | RPS off2/off, 100%/off, 1%/off | req per CPU-s off2/off, 100%/off, 1%/off |")
print("|---|---|---|---:|---|---|")
modes = ["off", "off2", "on", "1pct"]
rps_r = defaultdict(list); cpu_r = defaultdict(list)
for c in sorted(cyc):
    m = cyc[c]
    for k in modes[1:]:
        rps_r[k].append(m[k]["rps"] / m["off"]["rps"])
        cpu_r[k].append(m["off"]["us"] / m[k]["us"])
    print(f"| {c} | " + " / ".join(f"{m[k]['rps']:.0f}" for k in modes)
          + " | " + " / ".join(f"{m[k]['us']:.2f}" for k in modes)
          + f" | {100 * max(m[k]['steal'] for k in modes):.1f}% | "
          + ", ".join(f"{rps_r[k][-1]:.3f}" for k in modes[1:]) + " | "
          + ", ".join(f"{cpu_r[k][-1]:.3f}" for k in modes[1:]) + " |")
print()
print("| telemetry | median RPS | server busy (median) | RPS / off: median of per-cycle ratios (range) | requests per server CPU-second / off: median (range) |")
print("|---|---:|---:|---|---|")
names = {"off": "off (no endpoint)", "off2": "off again (A/A control)",
         "on": "100% sampling, OTLP/gRPC to a local sink", "1pct": "1% ratio sampling, same exporter"}
for k in modes:
    med = statistics.median(cyc[c][k]["rps"] for c in cyc)
    # The server's CPU per second of load: below ~95%, the client side (wrk and the sink,
    # sharing a CPU) held the rate back and RPS understates the server.
    busy = statistics.median(cyc[c][k]["rps"] * cyc[c][k]["us"] / 1e6 for c in cyc)
    if k == "off":
        print(f"| {names[k]} | {med:.0f} | {100 * busy:.0f}% | 1 | 1 |")
        continue
    r, u = rps_r[k], cpu_r[k]
    print(f"| {names[k]} | {med:.0f} | {100 * busy:.0f}% | {statistics.median(r):.3f} ({min(r):.3f}–{max(r):.3f}) "
          f"| {statistics.median(u):.3f} ({min(u):.3f}–{max(u):.3f}) |")
PY
echo
echo "spans received by the sink: ${received:-0}; not exported (queue full): 100% $(dropped on), 1% $(dropped 1pct)"
