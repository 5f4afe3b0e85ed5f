#!/usr/bin/env bash
# The brain's serving bar (issue 6): a top-20 recommendation request over a catalogue of 1 million
# items, p99 <= 3 ms at 1,000 requests per second, through HTTP.
#
# Starts `surge brain serve` with a synthetic catalogue of ITEMS items and EVENTS purchases over
# them (generated at start, not logged), waits for its first retrain, then drives
# GET /v1/recommendations?user=su<j>&k=20 open-loop with `surge load --get` at RATE per second for
# DURATION seconds (a random known user each time, ranked from their history by the trained
# models) and again for users never seen (cold start). Prints the load reports (latency
# percentiles from when each request was due).
#
# Usage: bench/brain.sh [BUILD_DIR]   (env: ITEMS=1000000 EVENTS=2000000 RATE=1000 DURATION=20)
set -euo pipefail
build=${1:-build}
surge=$build/apps/surge/surge
items=${ITEMS:-1000000}
events=${EVENTS:-2000000}
rate=${RATE:-1000}
duration=${DURATION:-20}
port=${PORT:-28850}
work=$(mktemp -d /tmp/surge-brain-bench.XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT

echo "brain bench: $items items, $events purchases, $rate requests/s for $duration s ($(date -u +%FT%TZ))"
start=$(date +%s.%N)
"$surge" brain serve --data "$work/data" --listen 127.0.0.1:$port --train-every-s 0 \
  --synthetic-items "$items" --synthetic-events "$events" >"$work/out" 2>"$work/log" &
pid=$!
until grep -q "listening on" "$work/out" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { cat "$work/log"; exit 1; }
  sleep 0.5
done
until grep -q "retrained on" "$work/log"; do
  kill -0 $pid 2>/dev/null || { cat "$work/log"; exit 1; }
  sleep 0.5
done
echo "loaded and trained in $(echo "$(date +%s.%N) - $start" | bc) s: $(grep 'retrained on' "$work/log")"
echo "rss: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/$pid/status)"
curl -s "http://127.0.0.1:$port/v1/recommendations?user=su123&k=20" | head -c 400; echo
# Known users: a different one of the catalogue's users (su0..) for each request; then users
# never seen (cold start), also different each time.
users=$((events / 10))
for who in su nobody; do
  echo "== users $who{0..$((users - 1))}"
  "$surge" load --target 127.0.0.1:$port --get "/v1/recommendations?user=$who{user}&k=20" \
    --users "$users" --rate "$rate" --duration-s "$duration" --connections 16 --threads 1 \
    --pipeline 1 --no-verify --server-pid $pid
done
