#!/usr/bin/env bash
# make bench-multicenter (and bench-gateway): a deployment of three centers on this machine, with
# the embedded data bus or NATS JetStream, against one center alone, in one run:
#   1. one center alone (the single-center figure), kept running beside the deployment;
#   2. master m and sub-centers s1, s2 (separate processes, --topology) behind the gateway; the
#      catalogue is written through the gateway to the master and reaches the subs over the bus;
#   3. master-data replication lag: merchants written at the master, polled at both subs until
#      readable (bench/lag_probe master-data);
#   4. through the gateway, driven past saturation: durable orders/s; then again with the
#      aggregation lag of the master's global view behind each sub-center sampled meanwhile
#      (lag_probe aggregation).
# Prints one table; the JSON of each part is kept in OUT (default: a temporary directory).
# Usage: bench/multicenter.sh BUILD_DIR [embedded|jetstream] [SECONDS] [CONNECTIONS] [OUT] [ROUNDS]
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
bus=${2:-embedded}
seconds=${3:-10}
connections=${4:-256}
rounds=${6:-5}
surge=$build/apps/surge/surge
probe=$build/bench/lag_probe
scratch=$(mktemp -d /tmp/surge-multicenter-XXXXXX)
out=${5:-$scratch}
mkdir -p "$out"
name=bench-multicenter
source "$(dirname "$0")/common.sh"

start_single_center
alone_pid=${pids[-1]}
deployment_pids=()

# 2. The deployment.
bus_flags=()
if [ "$bus" = jetstream ]; then
  nats=$(command -v nats-server || echo /usr/sbin/nats-server)
  nats_port=$(free_port)
  "$nats" -js -a 127.0.0.1 -p "$nats_port" -sd "$scratch/nats" > "$scratch/nats.log" 2>&1 &
  pids+=($!)
  wait_line "$scratch/nats.log" "Server is ready"
  bus_flags=(--bus "nats://127.0.0.1:$nats_port")
fi
ids=(m s1 s2)
slices=("0-20" "21-42" "43-63")
ports=($(free_port) $(free_port) $(free_port))
gateway_port=$(free_port)
{
  echo 'slices = 64'
  echo 'master = "m"'
  echo '[gateway]'
  echo "address = \"127.0.0.1:$gateway_port\""
  for i in 0 1 2; do
    echo '[[center]]'
    echo "id = \"${ids[$i]}\""
    echo "address = \"127.0.0.1:${ports[$i]}\""
    echo "bus = \"127.0.0.1:$(free_port)\""
    echo "slices = [\"${slices[$i]}\"]"
  done
} > "$scratch/topology.toml"
# Three centers share the two cores with the gateway and the generator: CENTER_THREADS event
# loops each (surge up gives each one; the default, 0, is one per core).
for i in 0 1 2; do
  "$surge" center --topology "$scratch/topology.toml" --id "${ids[$i]}" \
    --data "$scratch/${ids[$i]}" "${bus_flags[@]}" --threads "${CENTER_THREADS:-1}" \
    > "$scratch/${ids[$i]}.out" 2> "$scratch/${ids[$i]}.err" &
  pids+=($!)
  deployment_pids+=($!)
  wait_line "$scratch/${ids[$i]}.out" "listening on"
done
"$surge" gateway --topology "$scratch/topology.toml" > "$scratch/gateway.out" 2> "$scratch/gateway.err" &
pids+=($!)
deployment_pids+=($!)
wait_line "$scratch/gateway.out" "listening on"
log "catalogue through the gateway ($bus bus)"
setup "127.0.0.1:$gateway_port"

# 3. Master-data replication lag.
log "master-data lag: 500 merchants at 100/s"
"$probe" master-data --master "127.0.0.1:${ports[0]}" \
  --subs "127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}" --count 500 --rate 100 \
  | tee "$scratch/master-data.txt" >&2
grep '^{' "$scratch/master-data.txt" > "$out/master-data.json"

# 4. Saturated: one center alone and the three through the gateway, alternating for $rounds
# rounds (the machine is shared and noisy: each round's ratio compares runs a few seconds apart,
# and the medians are reported); then once more through the gateway with the aggregation lag
# sampled meanwhile (the probe's reads cost the centers a little; that figure is kept apart).
# Besides orders/s, the CPU time (user + system) spent per order created: by the center alone,
# by the deployment's processes (three centers and the gateway) and by the load generator
# (this shell's reaped children, `times`). On two shared cores the throughput is what other
# tenants leave; the CPU time per order is far steadier, and when everything is CPU-bound the
# ratio the cores allow is (alone + generator) / (deployment + generator).
hz=$(getconf CLK_TCK)
ticks_of() { local total=0 p; for p in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$total"; }
# `times` of this shell (not of a subshell, whose children are others): through a file.
children_ticks() { # -> $children
  times > "$scratch/times"
  children=$(awk -v hz="$hz" 'NR == 2 { gsub(/s/, ""); split($0, f, /[ m]/);
    print int(((f[1] * 60 + f[2]) + (f[3] * 60 + f[4])) * hz + 0.5) }' "$scratch/times")
}
us_per_order() { awk -v t="$1" -v hz="$hz" -v r="$2" -v s="$seconds" 'BEGIN{printf "%.2f", t / hz * 1e6 / (r * s)}'; }
# saturate, measured: sets rate, cpu (of the pids given) and gen (the generator), in us/order.
measured() { # target json pid...
  local target=$1 json=$2; shift 2
  local before gen_before
  before=$(ticks_of "$@"); children_ticks; gen_before=$children
  rate=$(saturate "$target" "$json")
  cpu=$(us_per_order $(($(ticks_of "$@") - before)) "$rate")
  children_ticks
  gen=$(us_per_order $((children - gen_before)) "$rate")
}
ratios=(); alones=(); throughs=(); cpu_alones=(); cpu_deps=(); gen_alones=(); gen_deps=(); cpu_ratios=()
for round in $(seq "$rounds"); do
  log "round $round/$rounds: one center alone, then three through the gateway, $seconds s each"
  measured "127.0.0.1:$single" "$out/alone-$round.json" "$alone_pid"
  a=$rate; cpu_alones+=("$cpu"); gen_alones+=("$gen")
  measured "127.0.0.1:$gateway_port" "$out/gateway-$round.json" "${deployment_pids[@]}"
  t=$rate; cpu_deps+=("$cpu"); gen_deps+=("$gen")
  alones+=("$a"); throughs+=("$t")
  ratios+=("$(awk -v a="$t" -v b="$a" 'BEGIN{printf "%.3f", a / b}')")
  cpu_ratios+=("$(awk -v a="${cpu_alones[-1]}" -v ga="${gen_alones[-1]}" -v d="$cpu" -v gd="$gen" \
    'BEGIN{printf "%.3f", (a + ga) / (d + gd)}')")
  log "round $round: alone $a, through the gateway $t, ratio ${ratios[-1]}; CPU us/order: alone ${cpu_alones[-1]} + generator ${gen_alones[-1]}, deployment $cpu + generator $gen, CPU ratio ${cpu_ratios[-1]} (load $(cut -d' ' -f1 /proc/loadavg))"
done
alone=$(median "${alones[@]}")
through=$(median "${throughs[@]}")
ratio=$(median "${ratios[@]}")
campaigns=camp-hot-1,camp-hot-2,camp-hot-3  # surge load's default SKUs, hot-1..3
log "again, $seconds s, with the aggregation lag sampled"
"$probe" aggregation --master "127.0.0.1:${ports[0]}" \
  --subs "s1=127.0.0.1:${ports[1]},s2=127.0.0.1:${ports[2]}" --campaigns "$campaigns" \
  --duration-s "$seconds" --period-ms 10 > "$scratch/aggregation.txt" &
probe_pid=$!
probed=$(saturate "127.0.0.1:$gateway_port" "$out/gateway-probed.json")
wait "$probe_pid"
cat "$scratch/aggregation.txt" >&2
grep '^{' "$scratch/aggregation.txt" > "$out/aggregation.json"

printf '%-44s %14s\n' "bus" "$bus"
printf '%-44s %14s\n' "one center, direct: orders/s (median)" "$alone"
printf '%-44s %14s\n' "three centers through the gateway (median)" "$through"
printf '%-44s %14s\n' "ratio, median of $rounds rounds (bar: >= 0.70)" "$ratio"
printf '%-44s %14s\n' "  each round's ratio" "${ratios[*]}"
printf '%-44s %14s\n' "CPU us/order, alone: center + generator" "$(median "${cpu_alones[@]}") + $(median "${gen_alones[@]}")"
printf '%-44s %14s\n' "CPU us/order, deployment: 3 centers+gateway + generator" "$(median "${cpu_deps[@]}") + $(median "${gen_deps[@]}")"
printf '%-44s %14s\n' "CPU ratio (alone / deployment, with generator), median" "$(median "${cpu_ratios[@]}")"
printf '%-44s %14s\n' "  each round's CPU ratio" "${cpu_ratios[*]}"
printf '%-44s %14s\n' "master-data lag p99 ms (bar: 50 / 100)" "$(jq .p99_ms "$out/master-data.json")"
printf '%-44s %14s\n' "aggregation lag p99 ms (bar: 500)" "$(jq .p99_ms "$out/aggregation.json")"
printf '%-44s %14s\n' "  orders/s while it was sampled" "$probed"
jq -c ".outcomes" "$out/gateway-$rounds.json" >&2
