#!/usr/bin/env bash
# The cost of order events on one center: the same center alone (no topology: no events) against
# a center alone in a one-center topology (every order's event recorded, journaled as the events
# record and served on its bus address; nothing follows it), both kept running, saturated in turn
# for ROUNDS rounds; the ratio is taken per round and the medians reported. With OLD_SURGE set to
# another build's surge binary, a third center (that binary, events on) is saturated in each round
# too: the old events path against the new one in the same run.
# Usage: [OLD_SURGE=path] bench/events_ab.sh BUILD_DIR [SECONDS] [CONNECTIONS] [ROUNDS] [THREADS]
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
seconds=${2:-6}
connections=${3:-256}
rounds=${4:-5}
threads=${5:-1}
surge=$build/apps/surge/surge
scratch=$(mktemp -d /tmp/surge-events-ab-XXXXXX)
name=bench-events-ab
source "$(dirname "$0")/common.sh"

plain=$(free_port)
"$surge" center --id alone --data "$scratch/plain" --listen "127.0.0.1:$plain" \
  --threads "$threads" > "$scratch/plain.out" 2> "$scratch/plain.err" &
pids+=($!)
wait_line "$scratch/plain.out" "listening on"
setup "127.0.0.1:$plain"

events=$(free_port)
{
  echo 'slices = 64'
  echo 'master = "m"'
  echo '[[center]]'
  echo 'id = "m"'
  echo "address = \"127.0.0.1:$events\""
  echo "bus = \"127.0.0.1:$(free_port)\""
  echo 'slices = ["0-63"]'
} > "$scratch/topology.toml"
"$surge" center --topology "$scratch/topology.toml" --id m --data "$scratch/events" \
  --threads "$threads" > "$scratch/events.out" 2> "$scratch/events.err" &
pids+=($!)
wait_line "$scratch/events.out" "listening on"
setup "127.0.0.1:$events"

old=
if [ -n "${OLD_SURGE:-}" ]; then
  old=$(free_port)
  sed -e "s/127.0.0.1:$events/127.0.0.1:$old/" -e "s/^bus = .*/bus = \"127.0.0.1:$(free_port)\"/" \
    "$scratch/topology.toml" > "$scratch/old.toml"
  "$OLD_SURGE" center --topology "$scratch/old.toml" --id m --data "$scratch/old" \
    --threads "$threads" > "$scratch/old.out" 2> "$scratch/old.err" &
  pids+=($!)
  wait_line "$scratch/old.out" "listening on"
  setup "127.0.0.1:$old"
fi

ratios=(); offs=(); ons=(); olds=(); old_ratios=()
for round in $(seq "$rounds"); do
  off=$(saturate "127.0.0.1:$plain" "$scratch/off-$round.json")
  on=$(saturate "127.0.0.1:$events" "$scratch/on-$round.json")
  offs+=("$off"); ons+=("$on")
  ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN{printf "%.3f", a / b}')")
  extra=
  if [ -n "$old" ]; then
    o=$(saturate "127.0.0.1:$old" "$scratch/old-$round.json")
    olds+=("$o")
    old_ratios+=("$(awk -v a="$o" -v b="$off" 'BEGIN{printf "%.3f", a / b}')")
    extra=", old binary on $o, ratio ${old_ratios[-1]}"
  fi
  log "round $round/$rounds: events off $off, on $on, ratio ${ratios[-1]}$extra (load $(cut -d' ' -f1 /proc/loadavg))"
done
printf '%-40s %12s\n' "events off: orders/s (median)" "$(median "${offs[@]}")"
printf '%-40s %12s\n' "events on: orders/s (median)" "$(median "${ons[@]}")"
printf '%-40s %12s\n' "ratio on/off, median of $rounds rounds" "$(median "${ratios[@]}")"
printf '%-40s %12s\n' "  each round's ratio" "${ratios[*]}"
if [ -n "$old" ]; then
  printf '%-40s %12s\n' "old binary, events on (median)" "$(median "${olds[@]}")"
  printf '%-40s %12s\n' "old on/off, median of $rounds rounds" "$(median "${old_ratios[@]}")"
  printf '%-40s %12s\n' "  each round's ratio" "${old_ratios[*]}"
fi
printf '%-40s %12s\n' "journal bytes, events off / on" \
  "$(du -sb "$scratch/plain" | cut -f1) / $(du -sb "$scratch/events" | cut -f1)${old:+ / old $(du -sb "$scratch/old" | cut -f1)}"
printf '%-40s %12s\n' "load average at the end" "$(cut -d' ' -f1-3 /proc/loadavg)"
