#!/usr/bin/env bash
# loadgen vs wrk (and oha) against one server-bound target, side by side in one run: what
# each client gets out of the same server (target-api --workers 1, POST
# /api/vector/add), not what each costs (that is bench/client-cost.sh, client-bound).
# Each tool is pinned to CLIENT_CPU, the server to SERVER_CPU.
#
# Each round runs every tool once, and wrk a second time as the A/A control, in the
# order of one row of a Williams design (over its rows, each tool runs in each place
# and right after each other tool equally often). Per run:
# RPS, the client's CPU per request (user + sys, GNU time), the client's and the server's
# busy share of their CPU, the hypervisor's steal on the client CPU. Reported: the
# per-round ratios to wrk of the same round (loadgen/wrk, oha/wrk, and the control's
# wrk'/wrk beside them: the bench's own noise), then their medians and ranges. Last, the
# peak RSS of loadgen with 5000 concurrent workers.
#
# Usage: bench/loadgen-vs-wrk.sh [DURATION_S] [CONNECTIONS] [ROUNDS]
#   CLIENT_CPU=0 SERVER_CPU=1 NO_OHA=1 (leave oha out) OHA=path/to/oha LOADGEN=path/to/loadgen
# Needs: wrk, GNU time, python3, taskset; oha is installed with `cargo install oha
# --locked` into ~/.cache/satlab-oha when missing and NO_OHA is unset (once, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${1:-10}
CONNS=${2:-50}
ROUNDS=${3:-4}
PORT=${BENCH_PORT:-18180}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
BODY='{"a":[1,2],"b":[3,4]}'
URL="http://127.0.0.1:${PORT}/api/vector/add"
OHA_ROOT=${OHA_ROOT:-$HOME/.cache/satlab-oha}
OHA=${OHA:-$OHA_ROOT/bin/oha}
TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

for tool in wrk taskset python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
TOOLS=(loadgen wrk wrk-control)
if [[ -z "${NO_OHA:-}" ]]; then
  if [[ ! -x "$OHA" ]]; then
    echo "installing oha into $OHA_ROOT (cargo install oha --locked) ..." >&2
    cargo install oha --locked --root "$OHA_ROOT" >&2
  fi
  TOOLS+=(oha)
fi

cargo build --release -q -p loadgen -p target-api
TARGET_DIR=${CARGO_TARGET_DIR:-target}
LOADGEN=${LOADGEN:-$TARGET_DIR/release/loadgen}

# shellcheck source=bench/lib/ports.sh
source bench/lib/ports.sh
# shellcheck source=bench/lib/orders.sh
source bench/lib/orders.sh
start_server() {
  taskset -c "$SERVER_CPU" "$TARGET_DIR/release/target-api" --listen "127.0.0.1:${PORT}" \
    --workers 1 "$@" >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT"
}
stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
# CPU ticks (user + sys) of a process; the hypervisor's steal ticks on the client CPU.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
steal() { awk -v c="cpu${CLIENT_CPU}" '$1 == c {print $9}' /proc/stat; }

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '${BODY}'
wrk.headers["Content-Type"] = "application/json"
LUA

# One run, pinned to CLIENT_CPU under GNU time; prints its requests per second.
client() {
  local tool=$1
  case "$tool" in
    loadgen)
      /usr/bin/time -f "%e %U %S %M" -o "$TMP/t" taskset -c "$CLIENT_CPU" "$LOADGEN" "$URL" \
        --body "$BODY" --stages "${CONNS}:${DUR}s" --settle 0s --threads 1 --quiet --json \
        >"$TMP/lg.json"
      python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["overall"]["rps"])' "$TMP/lg.json"
      ;;
    wrk | wrk-control)
      /usr/bin/time -f "%e %U %S %M" -o "$TMP/t" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" \
        -d"${DUR}s" -s "$TMP/post.lua" "$URL" >"$TMP/wrk.txt"
      awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt"
      ;;
    oha)
      /usr/bin/time -f "%e %U %S %M" -o "$TMP/t" taskset -c "$CLIENT_CPU" "$OHA" -z "${DUR}s" \
        -c "$CONNS" --no-tui --worker-threads 1 --output-format json -m POST -d "$BODY" \
        -H "content-type: application/json" "$URL" >"$TMP/oha.json"
      python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' \
        "$TMP/oha.json"
      ;;
  esac
}

# The orders (indices into TOOLS), one row a round.
ORDERS_TEXT=$(williams_orders "${#TOOLS[@]}")
mapfile -t ORDERS <<<"$ORDERS_TEXT"
if ((ROUNDS % ${#ORDERS[@]} != 0)); then
  echo "ROUNDS ($ROUNDS) is not a multiple of the design's ${#ORDERS[@]} rows: its balance is lost" >&2
fi

# Appends "round place tool rps wall user sys max_rss_kib server_ticks steal_ticks" per run.
start_server
: >"$TMP/runs"
for r in $(seq 0 $((ROUNDS - 1))); do
  read -ra order <<<"${ORDERS[$((r % ${#ORDERS[@]}))]}"
  for place in "${!order[@]}"; do
    tool=${TOOLS[${order[$place]}]}
    echo "round $r: $tool" >&2
    s0=$(ticks "$SERVER_PID")
    st0=$(steal)
    rps=$(client "$tool")
    [[ -n "$rps" ]] || { echo "round $r: $tool gave no requests per second" >&2; exit 1; }
    # GNU time puts "Command exited with non-zero status" first when the tool fails.
    echo "$r $place $tool $rps $(tail -n1 "$TMP/t") $(($(ticks "$SERVER_PID") - s0)) $(($(steal) - st0))" >>"$TMP/runs"
  done
done
stop_server

python3 - "$TMP/runs" "$CONNS" "$DUR" "$SERVER_CPU" "$CLIENT_CPU" "${TOOLS[@]}" <<'PY'
import statistics, sys
path, conns, dur, server_cpu, client_cpu, *tools = sys.argv[1:]
HZ = 100  # USER_HZ: /proc ticks
rounds = {}
for line in open(path):
    r, place, tool, rps, wall, user, sys_, rss, server, steal = line.split()
    rps, wall, user, sys_ = float(rps), float(wall), float(user), float(sys_)
    rounds.setdefault(int(r), {})[tool] = dict(
        place=int(place), rps=rps, us=(user + sys_) / (rps * wall) * 1e6,
        busy=(user + sys_) / wall, server=int(server) / HZ / wall,
        steal=int(steal) / HZ / wall, rss=int(rss))
others = [t for t in tools if t not in ("wrk", "loadgen")]
print(f"target-api --workers 1 on CPU {server_cpu}; each client on CPU {client_cpu}, one thread, "
      f"{conns} keep-alive connections, {dur} s per run; the order changes each round; "
      "wrk-control is wrk run again (the A/A control).\n")
head = ["round", "order"] + [f"{t} RPS" for t in tools] + [f"{t} µs/req" for t in tools] + [
    "client busy", "server busy", "steal", "loadgen/wrk RPS"] + [f"{t}/wrk RPS" for t in others]
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---:" if i != 1 else "---" for i in range(len(head))) + "|")
ratios = {t: [] for t in ["loadgen"] + others}
cpu_ratio = {t: [] for t in ["loadgen"] + others}
for r in sorted(rounds):
    d = rounds[r]
    if not all(t in d for t in tools):
        continue
    w = d["wrk"]
    for t in ratios:
        ratios[t].append(d[t]["rps"] / w["rps"])
        cpu_ratio[t].append(d[t]["us"] / w["us"])
    order = sorted(tools, key=lambda t: d[t]["place"])
    cells = [str(r), ", ".join(order)]
    cells += [f"{d[t]['rps']:.0f}" for t in tools]
    cells += [f"{d[t]['us']:.2f}" for t in tools]
    cells.append("/".join(f"{d[t]['busy']:.0%}" for t in tools))
    cells.append("/".join(f"{d[t]['server']:.0%}" for t in tools))
    cells.append(f"{max(d[t]['steal'] for t in tools):.1%}")
    cells += [f"{ratios[t][-1]:.3f}" for t in ["loadgen"] + others]
    print("| " + " | ".join(cells) + " |")
f = lambda xs: f"median {statistics.median(xs):.3f} (range {min(xs):.3f}–{max(xs):.3f})"
print(f"\nPer-round ratios to wrk over {len(ratios['loadgen'])} rounds:")
for t in ratios:
    print(f"  {t + '/wrk':<18} RPS {f(ratios[t])}; client CPU per request {f(cpu_ratio[t])}")
print("Max RSS (KiB): " + ", ".join(
    f"{t} {max(d[t]['rss'] for d in rounds.values() if t in d)}" for t in tools))
PY

# Memory: 5000 concurrent workers against a 200 ms I/O delay (all 5000 in flight).
start_server --io-delay 200ms
/usr/bin/time -f "%M" -o "$TMP/rss" taskset -c "$CLIENT_CPU" "$LOADGEN" "$URL" --body "$BODY" \
  --stages 5000:8s --settle 2s --threads 1 --quiet --json --out "$TMP/mem" >"$TMP/mem.json"
python3 - "$TMP/mem.json" "$(cat "$TMP/rss")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
o = s["steps"][0]
print(f"\n5000 workers: max RSS {int(sys.argv[2]) / 1024:.1f} MiB, {o['rps']:.0f} RPS, "
      f"p50 {o['latency']['p50_us'] / 1000:.1f} ms, N_eff {o['n_eff']:.0f}, "
      f"errors {o['errors']}, in-flight mean {o['in_flight_mean']:.0f}")
PY
