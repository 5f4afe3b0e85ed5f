#!/usr/bin/env bash
# make bench-gateway: what the gateway hop costs. In one run on this machine, with the load
# generator on the same cores:
#   1. one center alone, driven past saturation: durable orders/s (the single-center figure);
#   2. three centers behind a gateway (the topology of src/topology/example.toml's shape, on
#      free ports), driven past saturation through the gateway.
# The centers run without the topology (so each takes the catalogue directly: the data bus does
# not carry master data yet) and the gateway routes each order to its user's home center by the
# topology. Prints both figures and their ratio.
# Usage: bench/gateway.sh BUILD_DIR [SECONDS] [CONNECTIONS]
set -euo pipefail
build=${1:?build dir}
seconds=${2:-10}
connections=${3:-256}
surge=$(cd "$build" && pwd)/apps/surge/surge
scratch=$(mktemp -d /tmp/surge-gateway-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
log() { echo "bench-gateway: $*" >&2; }
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # file pattern
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench-gateway: no '$2' in $1" >&2; cat "$1" >&2; return 1
}
start_center() { # name port
  "$surge" center --id "$1" --data "$scratch/$1" --listen "127.0.0.1:$2" \
    > "$scratch/$1.out" 2> "$scratch/$1.err" &
  pids+=($!)
  wait_line "$scratch/$1.out" "listening on"
}
setup() { # port
  "$surge" load --target "127.0.0.1:$1" --setup --users 100000 --stock 1000000000 --limit 1000000 \
    --rate 100 --duration-s 1 --no-verify > /dev/null 2>&1
}
# A saturated run: offered well above what one center takes.
saturate() { # target json
  "$surge" load --target "$1" --users 100000 --profile steady --rate 300000 --duration-s "$seconds" \
    --connections "$connections" --no-verify --json "$2" > /dev/null 2>&1 || true
  jq '.created_per_s | round' "$2"
}

single=$(free_port)
start_center alone "$single"
setup "$single"
log "one center, saturated, $seconds s"
alone=$(saturate "127.0.0.1:$single" "$scratch/alone.json")
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()

ports=($(free_port) $(free_port) $(free_port))
gateway_port=$(free_port)
cat > "$scratch/topology.toml" <<EOF
slices = 64
master = "m"
[gateway]
address = "127.0.0.1:$gateway_port"
[[center]]
id = "m"
address = "127.0.0.1:${ports[0]}"
slices = ["0-20"]
[[center]]
id = "s1"
address = "127.0.0.1:${ports[1]}"
slices = ["21-42"]
[[center]]
id = "s2"
address = "127.0.0.1:${ports[2]}"
slices = ["43-63"]
EOF
for i in 0 1 2; do
  name=$(echo m s1 s2 | cut -d' ' -f$((i + 1)))
  start_center "$name" "${ports[$i]}"
  setup "${ports[$i]}"
done
"$surge" gateway --topology "$scratch/topology.toml" > "$scratch/gateway.out" 2> "$scratch/gateway.err" &
pids+=($!)
wait_line "$scratch/gateway.out" "listening on"
log "three centers behind a gateway, saturated, $seconds s"
through=$(saturate "127.0.0.1:$gateway_port" "$scratch/gateway.json")

ratio=$(awk -v a="$through" -v b="$alone" 'BEGIN{printf "%.2f", a / b}')
printf '%-36s %14s\n' "setup" "orders/s"
printf '%-36s %14s\n' "one center, direct" "$alone"
printf '%-36s %14s\n' "three centers through the gateway" "$through"
printf '%-36s %14s\n' "ratio (bar: >= 0.70)" "$ratio"
jq -c '.outcomes' "$scratch/gateway.json" >&2
