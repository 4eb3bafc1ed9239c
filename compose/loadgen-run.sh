#!/usr/bin/env bash
# The docker lab's load step: run one load plan against target-api, keep the record in
# the loadgen-records volume, and hand it to the observer for a diagnosis.
#
#   satlab-loadgen-run [LOADGEN FLAGS...]   e.g. --stages 10:30s,100:30s
#   satlab-loadgen-run scenario NAME        a workshop scenario (scenarios/NAME.toml):
#                                           its [target] settings are applied through the
#                                           admin API, then its [load] args are run
#   satlab-loadgen-run scenarios            list the scenarios
#   satlab-loadgen-run show NAME            print what `scenario NAME` would do
#   satlab-loadgen-run reset                put every run-time target setting back to its default
#   satlab-loadgen-run join [LOADGEN FLAGS...]
#                                           one of N replicas of a distributed run: open it
#                                           (the first replica does; the others find it open),
#                                           join it for a share of SATLAB_STAGES, and ask for
#                                           the merged diagnosis at the end
#
# Scenarios are read by `observer scenario` (the observer's own parser and target-api's
# own settings type); this script parses neither TOML nor JSON.
#
# Environment: SATLAB_TARGET_URL, SATLAB_OBSERVER_URL, SATLAB_ADMIN_URL,
# SATLAB_ADMIN_TOKEN, SATLAB_RECORDS_DIR, SATLAB_SCENARIOS_DIR, SATLAB_TRACE_SAMPLE (added
# as --trace-sample unless the flags give one); for `join`: SATLAB_RUN_ID (one per run),
# SATLAB_LOADGENS (the replicas), SATLAB_STAGES (the whole run's plan).
set -euo pipefail

target_url="${SATLAB_TARGET_URL:-http://target-api:8080/api/vector/add}"
observer_url="${SATLAB_OBSERVER_URL:-http://observer:9464}"
admin_url="${SATLAB_ADMIN_URL:-http://target-api:8080/admin/config}"
# loadgen's own copy of each record; the observer keeps the run (with its OTLP data
# and diagnosis) under its runs directory.
records_dir="${SATLAB_RECORDS_DIR:-/records}"
scenarios_dir="${SATLAB_SCENARIOS_DIR:-/opt/satlab/scenarios}"

die() {
  echo "satlab-loadgen-run: $*" >&2
  exit 2
}

# `observer scenario ARGS...`, with the scenarios directory when there is one.
plan() {
  if [[ -d $scenarios_dir ]]; then
    observer scenario --dir "$scenarios_dir" "$@"
  else
    observer scenario "$@"
  fi
}

# Read the NUL-terminated words `plan ARGS...` prints into the array named $1.
read_words() {
  local into=$1
  shift
  mapfile -d '' -t "$into" < <(plan "$@")
  wait $! || exit 2
}

put_settings() {
  curl -fsS -X PUT "$admin_url" \
    -H "Authorization: Bearer ${SATLAB_ADMIN_TOKEN:?set SATLAB_ADMIN_TOKEN}" \
    -H 'Content-Type: application/json' --data "$1" >/dev/null \
    || die "the admin API refused $1 (is SATLAB_ADMIN_TOKEN the target's --admin-token?)"
}

label=adhoc
run_url=
case "${1:-}" in
  join)
    shift
    run_id=${SATLAB_RUN_ID:?set SATLAB_RUN_ID: one id per distributed run}
    run_url=$(observer distribute --to "$observer_url" --id "$run_id" \
      --loadgens "${SATLAB_LOADGENS:?set SATLAB_LOADGENS: the replicas that join}" \
      --stages "${SATLAB_STAGES:?set SATLAB_STAGES: the whole run, e.g. 30:30s,60:30s}" \
      --exists-ok) || exit 2
    label="$run_id-$(hostname)"
    ;;
  scenarios)
    plan --list
    exit 0
    ;;
  reset)
    put_settings "$(plan --admin-reset)"
    echo "target-api settings reset to their defaults"
    exit 0
    ;;
  show | scenario)
    name=${2:-}
    [[ -n $name ]] || die "usage: $1 NAME (list them with: scenarios)"
    # Every run-time setting, so it also undoes an earlier scenario.
    body=$(plan "$name" --admin-body) || exit 2
    read_words fixed_flags "$name" --fixed-flags
    read_words load_args "$name" --load-args
    for flag in "${fixed_flags[@]}"; do
      echo "note: $flag is fixed at start; set it in target-api's command in docker-compose.yml" >&2
    done
    if [[ $1 == show ]]; then
      echo "PUT /admin/config $body"
      echo "loadgen $target_url ${load_args[*]}"
      exit 0
    fi
    echo "target-api settings for $name: $body"
    put_settings "$body"
    set -- "${load_args[@]}"
    label=$name
    ;;
esac

[[ -n $run_url ]] || (($#)) || die "give loadgen flags (e.g. --stages 10:30s,100:30s) or: scenario NAME"
# Sample a share of the traces (the lab's default keeps Jaeger and the Collector light)
# unless the flags choose.
if [[ -n ${SATLAB_TRACE_SAMPLE:-} && " $* " != *" --trace-sample"* ]]; then
  set -- "$@" --trace-sample "$SATLAB_TRACE_SAMPLE"
fi
out="$records_dir/$(date -u +%Y%m%dT%H%M%SZ)-$label"
if [[ -n $run_url ]]; then
  echo "loadgen $target_url --join $run_url $* --out $out"
  status=0
  loadgen "$target_url" --join "$run_url" "$@" --out "$out" || status=$?
  # Every replica asks; the observer merges whatever parts have arrived, so the last
  # one to finish leaves the whole run merged and diagnosed.
  curl -fsS -X POST "$run_url/diagnose" -o /dev/null \
    || echo "note: the observer did not diagnose $run_url" >&2
  exit "$status"
fi
echo "loadgen $target_url $* --out $out"
status=0
loadgen "$target_url" "$@" --out "$out" || status=$?
if [[ -d $out ]]; then
  observer submit "$out" --to "$observer_url" || echo "note: the observer did not take $out" >&2
fi
exit "$status"
