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
plain_pid=$!
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
events_pid=$!
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
  old_pid=$!
  wait_line "$scratch/old.out" "listening on"
  setup "127.0.0.1:$old"
fi

# CPU time (user + system, all threads) a center spent per order created during a run, in us:
# far less noisy than throughput on a shared machine.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
measure() { # pid target json -> "orders/s cpu_us_per_order"
  local before after rate
  before=$(ticks "$1")
  rate=$(saturate "$2" "$3")
  after=$(ticks "$1")
  echo "$rate $(awk -v t=$((after - before)) -v hz="$hz" -v r="$rate" -v s="$seconds" \
    'BEGIN{printf "%.2f", t / hz * 1e6 / (r * s)}')"
}
ratios=(); offs=(); ons=(); olds=(); old_ratios=(); cpu_offs=(); cpu_ons=(); cpu_olds=()
for round in $(seq "$rounds"); do
  read -r off cpu_off < <(measure "$plain_pid" "127.0.0.1:$plain" "$scratch/off-$round.json")
  read -r on cpu_on < <(measure "$events_pid" "127.0.0.1:$events" "$scratch/on-$round.json")
  offs+=("$off"); ons+=("$on"); cpu_offs+=("$cpu_off"); cpu_ons+=("$cpu_on")
  ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN{printf "%.3f", a / b}')")
  extra=
  if [ -n "$old" ]; then
    read -r o cpu_old < <(measure "$old_pid" "127.0.0.1:$old" "$scratch/old-$round.json")
    olds+=("$o"); cpu_olds+=("$cpu_old")
    old_ratios+=("$(awk -v a="$o" -v b="$off" 'BEGIN{printf "%.3f", a / b}')")
    extra=", old binary on $o ($cpu_old us/order), ratio ${old_ratios[-1]}"
  fi
  log "round $round/$rounds: events off $off ($cpu_off us/order), on $on ($cpu_on us/order), ratio ${ratios[-1]}$extra (load $(cut -d' ' -f1 /proc/loadavg))"
done
printf '%-40s %12s\n' "events off: orders/s (median)" "$(median "${offs[@]}")"
printf '%-40s %12s\n' "events on: orders/s (median)" "$(median "${ons[@]}")"
printf '%-40s %12s\n' "ratio on/off, median of $rounds rounds" "$(median "${ratios[@]}")"
printf '%-40s %12s\n' "  each round's ratio" "${ratios[*]}"
printf '%-40s %12s\n' "center CPU us per order, off / on (median)" \
  "$(median "${cpu_offs[@]}") / $(median "${cpu_ons[@]}")"
if [ -n "$old" ]; then
  printf '%-40s %12s\n' "old binary, events on (median)" "$(median "${olds[@]}")"
  printf '%-40s %12s\n' "old on/off, median of $rounds rounds" "$(median "${old_ratios[@]}")"
  printf '%-40s %12s\n' "  each round's ratio" "${old_ratios[*]}"
  printf '%-40s %12s\n' "old binary: center CPU us per order" "$(median "${cpu_olds[@]}")"
fi
printf '%-40s %12s\n' "journal bytes, events off / on" \
  "$(du -sb "$scratch/plain" | cut -f1) / $(du -sb "$scratch/events" | cut -f1)${old:+ / old $(du -sb "$scratch/old" | cut -f1)}"
printf '%-40s %12s\n' "load average at the end" "$(cut -d' ' -f1-3 /proc/loadavg)"
