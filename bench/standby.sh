#!/usr/bin/env bash
# make bench-standby: the cost of synchronous shipping to a hot standby, in one run:
#   1. one center alone (the single-center figure), kept running beside the pair;
#   2. the same center as a primary/standby pair (two `surge center --coord` nodes, embedded
#      coordinator), the primary answering only what both made durable.
# Both are driven past saturation by `surge load` in turn for ROUNDS rounds (the machine is shared
# and noisy: each round's ratio compares runs seconds apart), and the medians are reported.
# Usage: bench/standby.sh BUILD_DIR [SECONDS] [CONNECTIONS] [OUT] [ROUNDS]
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
seconds=${2:-6}
connections=${3:-256}
rounds=${5:-5}
surge=$build/apps/surge/surge
scratch=$(mktemp -d /tmp/surge-standby-XXXXXX)
out=${4:-$scratch}
mkdir -p "$out"
name=bench-standby
source "$(dirname "$0")/common.sh"

start_single_center

primary_port=$(free_port)
node() { # name http_port extra...
  local name=$1 port=$2; shift 2
  "$surge" center --id c1 --data "$scratch/$name" --listen "127.0.0.1:$port" \
    --coord "file:$scratch/leases" --node "$name" --ship "127.0.0.1:$(free_port)" "$@" \
    > "$scratch/$name.out" 2> "$scratch/$name.err" &
  pids+=($!)
}
node a "$primary_port" --initial-primary
wait_line "$scratch/a.out" "listening on"
node b "$(free_port)"
wait_line "$scratch/b.out" "standby"
log "catalogue through the primary"
setup "127.0.0.1:$primary_port"

ratios=(); alones=(); pairs=()
for round in $(seq "$rounds"); do
  log "round $round/$rounds: one center alone, then the primary/standby pair, $seconds s each"
  a=$(saturate "127.0.0.1:$single" "$out/alone-$round.json")
  p=$(saturate "127.0.0.1:$primary_port" "$out/pair-$round.json")
  alones+=("$a"); pairs+=("$p")
  ratios+=("$(awk -v a="$p" -v b="$a" 'BEGIN{printf "%.3f", a / b}')")
  log "round $round: alone $a, with a standby $p, ratio ${ratios[-1]}"
done
printf '%-46s %12s\n' "one center alone: orders/s (median)" "$(median "${alones[@]}")"
printf '%-46s %12s\n' "primary with a hot standby (median)" "$(median "${pairs[@]}")"
printf '%-46s %12s\n' "ratio, median of $rounds rounds (bar: >= 0.60)" "$(median "${ratios[@]}")"
printf '%-46s %s\n' "  each round's ratio" "${ratios[*]}"
for f in alone pair; do
  printf '%-46s %12s\n' "  accepted p99 ms (saturated), last round, $f" \
    "$(jq '.latency_accepted.p99_us / 1000 | round' "$out/$f-$rounds.json")"
done
