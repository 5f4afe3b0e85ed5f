#!/usr/bin/env bash
# make bench-overload: a center offered 30x what it can take.
#
# On this machine the HTTP path tops out near the durable path, so no generator sharing its two
# cores could offer a default center 30x its peak. The run therefore makes the durable path the
# bottleneck, as a slow disk would: the center commits one order per fdatasync (--batch-max 1),
# which caps what it can take at the disk's sync rate. It then
#   1. ramps the offered rate to find the peak it sustains (the last step with at most 1% shed);
#   2. offers 30x that peak for SECONDS with one request in flight per connection (each
#      connection a shopper), and reports accepted throughput against the peak, how fast the
#      shed requests were answered (503 overloaded), the server's resident memory each second,
#      and verifies that every order it acknowledged is there and nothing was oversold.
# Usage: bench/overload.sh BUILD_DIR [SECONDS] [FACTOR] [OUT_DIR]
set -euo pipefail
build=${1:?build dir}
seconds=${2:-10}
factor=${3:-30}
out=${4:-}
surge=$(cd "$build" && pwd)/apps/surge/surge
scratch=$(mktemp -d /tmp/surge-overload-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
log() { echo "bench-overload: $*" >&2; }
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null

"$surge" center --data "$scratch/data" --listen 127.0.0.1:0 --batch-max 1 \
  > "$scratch/center.out" 2> "$scratch/center.err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$scratch/center.out" 2>/dev/null && break; sleep 0.1; done
address=$(grep -o "listening on .*" "$scratch/center.out" | awk '{print $3}')
[ -n "$address" ] || { cat "$scratch/center.err" >&2; exit 1; }

log "ramping to find the peak of a center that syncs every order ($address)"
"$surge" load --target "$address" --setup --users 100000 --stock 1000000000 --limit 1000000 \
  --profile ramp --rate 500 --ramp-factor-pct 25 --ramp-step-s 2 --ramp-p99-ms 200 \
  --connections 1024 --pipeline 1 --json "$scratch/ramp.json" > /dev/null 2> "$scratch/ramp.log"
peak=$(jq '.max_sustainable_rate_per_s' "$scratch/ramp.json")
offered=$(awk -v p="$peak" -v f="$factor" 'BEGIN { printf "%d", p * f }')
log "peak $peak/s; offering ${factor}x = $offered/s for $seconds s"

"$surge" load --target "$address" --users 100000 --profile steady --rate "$offered" \
  --duration-s "$seconds" --connections 4096 --pipeline 1 --server-pid "$pid" \
  --json "$scratch/overload.json" --svg "$scratch/overload.svg" > "$scratch/overload.txt" \
  2> "$scratch/overload.log"
cat "$scratch/overload.txt"

jq -r --argjson peak "$peak" --argjson factor "$factor" '
  def ms: . / 1000 | . * 1000 | round / 1000;
  . as $r
  | ($r.seconds | map(.rss_bytes) | map(select(. > 0))) as $rss
  | [
      "offered:               \($factor)x the peak of \($peak)/s",
      "accepted (created)/s:  \($r.created_per_s | round)  = \(($r.created_per_s / $peak * 100) | round)% of the peak",
      "shed (503 overloaded): \($r.outcomes.overloaded)",
      "shed answered in:      p50 \($r.latency_rejected.p50_us / 1000) ms, p99 \($r.latency_rejected.p99_us / 1000) ms, p99.9 \($r.latency_rejected.p999_us / 1000) ms",
      "accepted answered in:  p50 \($r.latency_accepted.p50_us / 1000) ms, p99 \($r.latency_accepted.p99_us / 1000) ms",
      "never sent (every connection busy): \($r.outcomes.unsent)",
      "server RSS MiB first/max/last second: \(($rss | first) / 1048576 | round) / \(($rss | max) / 1048576 | round) / \(($rss | last) / 1048576 | round)",
      "verified: \($r.verified)"
    ] | .[]' "$scratch/overload.json"
if [ -n "$out" ]; then
  mkdir -p "$out"
  cp "$scratch/overload.json" "$scratch/overload.svg" "$scratch/ramp.json" "$out/"
  log "wrote $out/overload.json, overload.svg and ramp.json"
fi
