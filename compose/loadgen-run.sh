#!/usr/bin/env bash
# The docker lab's load step: run one load plan against target-api, keep the record in
# the loadgen-records volume, and hand it to the observer for a diagnosis.
#
#   satlab-loadgen-run [LOADGEN FLAGS...]   e.g. --stages 10:30s,100:30s
#   satlab-loadgen-run scenario NAME        a workshop scenario (scenarios/NAME.toml):
#                                           its [target] args are applied through the
#                                           admin API, then its [load] args are run
#   satlab-loadgen-run scenarios            list the scenarios
#   satlab-loadgen-run show NAME            print what `scenario NAME` would do
#   satlab-loadgen-run args NAME SECTION    the scenario's [SECTION] args, one a line
#
# Environment: SATLAB_TARGET_URL, SATLAB_OBSERVER_URL, SATLAB_ADMIN_URL,
# SATLAB_ADMIN_TOKEN, SATLAB_RECORDS_DIR, SATLAB_SCENARIOS_DIR, SATLAB_TRACE_SAMPLE (added
# as --trace-sample unless the flags give one).
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

# Print the strings of `args = [...]` in section [$2] of TOML file $1, one per line.
# The array may span lines; "basic" strings (with \" and \\ escapes) and 'literal'
# strings are read, comments and brackets inside strings are handled.
toml_args() {
  local file=$1 section=$2 line rest
  line=$(awk -v want="[$section]" '
    function scan(text,    i, c) {
      for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (quote != "") {
          if (quote == "\"" && c == "\\") { out = out c substr(text, i + 1, 1); i++; continue }
          if (c == quote) quote = ""
        } else if (c == "\"" || c == "\047") {
          quote = c
        } else if (c == "#") {
          break
        } else if (c == "[") {
          depth++
        } else if (c == "]") {
          depth--
          if (depth == 0) { out = out c; done = 1; return }
        }
        out = out c
      }
      out = out " "
    }
    !collecting && /^[[:space:]]*\[/ { in_section = ($1 == want); next }
    !collecting && in_section && /^[[:space:]]*args[[:space:]]*=/ {
      sub(/^[^=]*=[[:space:]]*/, ""); collecting = 1
    }
    collecting { scan($0); if (done) { print out; exit } }
  ' "$file")
  [[ -n $line ]] || return 0
  rest=${line#*[}
  rest=${rest%]*}
  local re_basic='^[[:space:],]*"(([^"\\]|\\.)*)"' re_literal="^[[:space:],]*'([^']*)'"
  while :; do
    if [[ $rest =~ $re_basic ]]; then
      local s=${BASH_REMATCH[1]}
      s=${s//\\\"/\"}
      s=${s//\\\\/\\}
      printf '%s\n' "$s"
    elif [[ $rest =~ $re_literal ]]; then
      printf '%s\n' "${BASH_REMATCH[1]}"
    else
      break
    fi
    rest=${rest:${#BASH_REMATCH[0]}}
  done
}

# Turn target-api flags into a PUT /admin/config body; flags that need a restart are
# reported on stderr and left out.
admin_body() {
  local profile=() events=() flag value field
  while (($#)); do
    flag=$1
    value=${2:-}
    shift $(($# >= 2 ? 2 : 1))
    field=${flag#--}
    field=${field//-/_}
    [[ $value =~ ^[0-9]+$ ]] || value="\"$value\""
    case $field in
      cpu_cost | cpu_iterations | io_delay | pool_hold) profile+=("\"$field\":$value") ;;
      pause_every | pause_duration | recycle_every | recycle_cost | burst_every | \
        burst_duration | shed_above | shed_status | accept_delay) events+=("\"$field\":$value") ;;
      *) echo "note: $flag is fixed at start; set it in target-api's command in docker-compose.yml" >&2 ;;
    esac
  done
  local IFS=,
  printf '{"profile":{%s},"events":{%s}}' "${profile[*]}" "${events[*]}"
}

# Settings that undo a previous scenario (every run-time setting at its default).
reset_body='{"profile":{"cpu_cost":"0s","cpu_iterations":0,"io_delay":"0s","pool_hold":"0s"},"events":{"pause_every":0,"pause_duration":"0s","recycle_every":0,"recycle_cost":"0s","burst_every":"0s","burst_duration":"0s","shed_above":0,"shed_status":429,"accept_delay":"0s"}}'

put_settings() {
  curl -fsS -X PUT "$admin_url" \
    -H "Authorization: Bearer ${SATLAB_ADMIN_TOKEN:?set SATLAB_ADMIN_TOKEN}" \
    -H 'Content-Type: application/json' --data "$1" >/dev/null \
    || die "the admin API refused $1 (is SATLAB_ADMIN_TOKEN the target's --admin-token?)"
}

label=adhoc
case "${1:-}" in
  scenarios)
    for f in "$scenarios_dir"/*.toml; do
      printf '%-16s %s\n' "$(basename "$f" .toml)" "$(awk -F' = ' '/^summary/ { gsub(/"/, "", $2); print $2; exit }' "$f")"
    done
    exit 0
    ;;
  args)
    file="$scenarios_dir/${2:-}.toml"
    [[ -n ${2:-} && -f $file && ${3:-} =~ ^(target|load)$ ]] || die "usage: args NAME target|load"
    toml_args "$file" "$3"
    exit 0
    ;;
  body)
    # The admin API body for target-api flags given as arguments.
    shift
    admin_body "$@"
    echo
    exit 0
    ;;
  show)
    file="$scenarios_dir/${2:-}.toml"
    [[ -n ${2:-} && -f $file ]] || die "usage: show NAME (list them with: scenarios)"
    mapfile -t target_args < <(toml_args "$file" target)
    mapfile -t load_args < <(toml_args "$file" load)
    echo "PUT /admin/config $(admin_body "${target_args[@]}")"
    echo "loadgen $target_url ${load_args[*]}"
    exit 0
    ;;
  scenario)
    name=${2:-}
    [[ -n $name ]] || die "usage: scenario NAME (list them with: scenarios)"
    file="$scenarios_dir/$name.toml"
    [[ -f $file ]] || die "no scenario '$name' in $scenarios_dir (list them with: scenarios)"
    mapfile -t target_args < <(toml_args "$file" target)
    mapfile -t load_args < <(toml_args "$file" load)
    put_settings "$reset_body"
    if ((${#target_args[@]})); then
      body=$(admin_body "${target_args[@]}")
      echo "target-api settings for $name: $body"
      put_settings "$body"
    fi
    set -- "${load_args[@]}"
    label=$name
    ;;
esac

(($#)) || die "give loadgen flags (e.g. --stages 10:30s,100:30s) or: scenario NAME"
# Sample a share of the traces (the lab's default keeps Jaeger and the Collector light)
# unless the flags choose.
if [[ -n ${SATLAB_TRACE_SAMPLE:-} && " $* " != *" --trace-sample"* ]]; then
  set -- "$@" --trace-sample "$SATLAB_TRACE_SAMPLE"
fi
out="$records_dir/$(date -u +%Y%m%dT%H%M%SZ)-$label"
echo "loadgen $target_url $* --out $out"
status=0
loadgen "$target_url" "$@" --out "$out" || status=$?
if [[ -d $out ]]; then
  observer submit "$out" --to "$observer_url" || echo "note: the observer did not take $out" >&2
fi
exit "$status"
