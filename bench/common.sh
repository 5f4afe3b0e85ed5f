# Shared by the bench scripts that start surge processes and drive them with `surge load`.
# Source it after setting: surge (the binary), scratch (a temporary directory, removed at exit),
# seconds, connections and name (for log lines). Defines pids (killed at exit) and the helpers.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
log() { echo "$name: $*" >&2; }
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # file pattern
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "$name: no '$2' in $1" >&2; cat "$1" >&2; return 1
}
# Creates the catalogue through `target` (100,000 users, the generator's campaigns).
setup() { # target
  "$surge" load --target "$1" --setup --users 100000 --stock 1000000000 --limit 1000000 \
    --rate 100 --duration-s 1 --no-verify > /dev/null 2> "$scratch/setup.err"
}
# A saturated run: offered well above what one center takes. Prints the orders created per second.
saturate() { # target json
  "$surge" load --target "$1" --users 100000 --profile steady --rate 300000 --duration-s "$seconds" \
    --connections "$connections" --no-verify --json "$2" > /dev/null 2>&1 || true
  jq '.created_per_s | round' "$2"
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
# One center alone on a free port, with the catalogue; sets $single to its port.
start_single_center() {
  single=$(free_port)
  "$surge" center --id alone --data "$scratch/alone" --listen "127.0.0.1:$single" \
    > "$scratch/alone.out" 2> "$scratch/alone.err" &
  pids+=($!)
  wait_line "$scratch/alone.out" "listening on"
  setup "127.0.0.1:$single"
}
