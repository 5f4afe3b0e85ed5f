#!/usr/bin/env bash
# make bench-peers: the same flash sale against surge and against what teams would otherwise use,
# in one run on this machine, each driven by its own standard client at comparable concurrency:
#   Redis 7, appendfsync always, a Lua seckill script (check stock, per-user limit, decrement,
#     record the order), driven by redis-benchmark;
#   PostgreSQL 15, synchronous_commit on, UPDATE ... SET stock = stock - 1 WHERE ... AND stock > 0
#     plus an order INSERT (one transaction), driven by pgbench;
#   nginx answering a static 200: the HTTP ceiling of this machine, driven by surge load;
#   surge: a center with its journal synced before every reply, driven by surge load.
# Everything listens on loopback, in a scratch directory, and is stopped at the end.
# Usage: bench/peers.sh BUILD_DIR [SECONDS] [CONNECTIONS]
set -euo pipefail
build=${1:?build dir}
seconds=${2:-10}
connections=${3:-256}
surge=$(cd "$build" && pwd)/apps/surge/surge
scratch=$(mktemp -d /tmp/surge-peers-XXXXXX)
results=$scratch/results.tsv
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${pg_bin:-}" ] && [ -d "$scratch/pg" ]; then
    su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $scratch/pg -m immediate stop" >/dev/null 2>&1 || true
  fi
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
log() { echo "bench-peers: $*" >&2; }

install_missing() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}
install_missing redis-server redis-tools postgresql-15 postgresql-contrib nginx-light jq
# Debian starts these services on install; the benchmark runs its own copies on other ports.
for service in redis-server nginx postgresql; do
  systemctl stop "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true
done

# One row of the results table: name, protocol, durable, throughput/s, p99 ms.
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$results"; }

# ---- surge -----------------------------------------------------------------------------------
run_surge() {
  log "surge: center with a synced journal, $connections connections, $seconds s"
  "$surge" center --data "$scratch/surge" --listen 127.0.0.1:0 > "$scratch/surge.out" 2> "$scratch/surge.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -q "listening on" "$scratch/surge.out" 2>/dev/null && break; sleep 0.1; done
  local address
  address=$(grep -o "listening on .*" "$scratch/surge.out" | awk '{print $3}')
  # Stock far above what a run can sell, so every request is a durable order.
  "$surge" load --target "$address" --setup --users 100000 --stock 1000000000 --limit 1000000 \
    --skus hot-1 --profile ramp --rate 20000 --ramp-factor-pct 25 --ramp-step-s 2 \
    --ramp-p99-ms 200 --connections "$connections" --threads 2 --no-verify \
    --json "$scratch/surge-ramp.json" > /dev/null 2> "$scratch/surge-ramp.log" || true
  local peak
  peak=$(jq '.max_sustainable_rate_per_s' "$scratch/surge-ramp.json")
  # Saturating run at twice the ramp's peak: what it accepts when offered more than it can take.
  "$surge" load --target "$address" --skus hot-1 --users 100000 --profile steady \
    --rate "$(awk -v peak="$peak" 'BEGIN{printf "%d", peak * 2 + 1000}')" --duration-s "$seconds" \
    --connections "$connections" --threads 2 --no-verify --server-pid "$pid" \
    --json "$scratch/surge.json" > /dev/null 2> "$scratch/surge.log" || true
  record surge "HTTP/1.1 JSON" "yes (fdatasync per batch)" \
    "$(jq '.created_per_s' "$scratch/surge.json")" \
    "$(jq '.latency_accepted.p99_us / 1000' "$scratch/surge.json")"
  log "surge: ramp peak $peak/s; saturated: $(jq -c '.outcomes' "$scratch/surge.json")"
  kill -TERM "$pid"; wait "$pid" || true
}

# ---- nginx -----------------------------------------------------------------------------------
run_nginx() {
  log "nginx: static 200, $connections connections, $seconds s"
  mkdir -p "$scratch/nginx"
  cat > "$scratch/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $scratch/nginx/nginx.pid;
error_log $scratch/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $scratch/nginx;
  proxy_temp_path $scratch/nginx;
  fastcgi_temp_path $scratch/nginx;
  uwsgi_temp_path $scratch/nginx;
  scgi_temp_path $scratch/nginx;
  server {
    listen 127.0.0.1:18088 reuseport;
    location / { return 200 '{"ok":true}'; }
  }
}
CONF
  nginx -c "$scratch/nginx/nginx.conf" -g 'daemon off;' &
  pids+=("$!")
  sleep 0.5
  "$surge" load --target 127.0.0.1:18088 --get / --profile steady --rate 400000 \
    --duration-s "$seconds" --connections "$connections" --threads 2 \
    --json "$scratch/nginx.json" > /dev/null 2> "$scratch/nginx.log" || true
  record nginx "HTTP/1.1 static" "no" "$(jq '.achieved_per_s' "$scratch/nginx.json")" \
    "$(jq '.latency_all.p99_us / 1000' "$scratch/nginx.json")"
  nginx -c "$scratch/nginx/nginx.conf" -s stop 2>/dev/null || true
}

# ---- Redis -----------------------------------------------------------------------------------
run_redis() {
  log "redis: Lua seckill, appendfsync always, $connections clients, $seconds s"
  mkdir -p "$scratch/redis"
  redis-server --port 16379 --bind 127.0.0.1 --dir "$scratch/redis" --save '' \
    --appendonly yes --appendfsync always --daemonize no > "$scratch/redis.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 50); do redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  # KEYS: stock, per-user holdings hash, orders list. ARGV: user, quantity, limit.
  local script='local stock = tonumber(redis.call("GET", KEYS[1]) or "0")
local quantity = tonumber(ARGV[2])
if stock < quantity then return {err = "sold_out"} end
local held = tonumber(redis.call("HGET", KEYS[2], ARGV[1]) or "0")
if held + quantity > tonumber(ARGV[3]) then return {err = "limit_exceeded"} end
redis.call("DECRBY", KEYS[1], quantity)
redis.call("HINCRBY", KEYS[2], ARGV[1], quantity)
local id = redis.call("INCR", "order:next")
redis.call("RPUSH", KEYS[3], id .. ":" .. ARGV[1] .. ":" .. quantity)
return id'
  redis-cli -p 16379 SET stock 1000000000 >/dev/null
  local sha
  sha=$(redis-cli -p 16379 SCRIPT LOAD "$script")
  # As many requests as the run can take in about $seconds seconds (measured rate x seconds).
  redis-benchmark -p 16379 -c "$connections" -n 20000 -r 100000 --threads 2 -q \
    EVALSHA "$sha" 3 stock held orders user:__rand_int__ 1 1000000 > "$scratch/redis-probe.txt" 2>&1
  local probe
  probe=$(grep -oE '[0-9.]+ requests per second' "$scratch/redis-probe.txt" | awk '{print int($1)}')
  redis-benchmark -p 16379 -c "$connections" -n $((probe * seconds + 1000)) -r 100000 \
    --threads 2 --precision 3 EVALSHA "$sha" 3 stock held orders user:__rand_int__ 1 1000000 \
    > "$scratch/redis-run.txt" 2>&1
  local throughput p99
  throughput=$(grep -oE 'throughput summary: [0-9.]+' "$scratch/redis-run.txt" | awk '{print $3}')
  p99=$(awk '/latency summary/{getline; getline; print $5}' "$scratch/redis-run.txt")
  local orders
  orders=$(redis-cli -p 16379 LLEN orders)
  log "redis: $orders orders recorded"
  record "redis + Lua" "RESP" "yes (appendfsync always)" "$throughput" "$p99"
}

# ---- PostgreSQL ------------------------------------------------------------------------------
run_postgres() {
  pg_bin=/usr/lib/postgresql/15/bin
  log "postgresql: hot-row UPDATE + INSERT, synchronous_commit on, $connections clients, $seconds s"
  mkdir -p "$scratch/pg" && chown postgres "$scratch" "$scratch/pg" && chmod 755 "$scratch"
  su postgres -s /bin/sh -c "$pg_bin/initdb -D $scratch/pg -A trust" > "$scratch/pg-init.log" 2>&1
  cat >> "$scratch/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = 15432
unix_socket_directories = '$scratch/pg'
max_connections = $((connections + 20))
synchronous_commit = on
fsync = on
shared_buffers = 256MB
CONF
  su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $scratch/pg -l $scratch/pg/server.log -w start" >/dev/null
  local psql="psql -h 127.0.0.1 -p 15432 -U postgres -q"
  $psql -c "CREATE TABLE campaign (id int PRIMARY KEY, stock bigint NOT NULL);
            CREATE TABLE orders (id bigserial PRIMARY KEY, campaign int, user_id int,
                                 quantity int, created timestamptz DEFAULT now());
            INSERT INTO campaign VALUES (1, 1000000000);"
  cat > "$scratch/order.sql" <<'SQL'
\set user random(1, 100000)
BEGIN;
UPDATE campaign SET stock = stock - 1 WHERE id = 1 AND stock > 0;
INSERT INTO orders (campaign, user_id, quantity) VALUES (1, :user, 1);
END;
SQL
  pgbench -h 127.0.0.1 -p 15432 -U postgres -n -c "$connections" -j 2 -T "$seconds" \
    -f "$scratch/order.sql" -r postgres > "$scratch/pgbench.txt" 2>&1 || true
  local throughput latency
  throughput=$(grep -oE 'tps = [0-9.]+' "$scratch/pgbench.txt" | awk '{print $3}')
  latency=$(grep -oE 'latency average = [0-9.]+' "$scratch/pgbench.txt" | awk '{print $4}')
  # pgbench reports the average latency, not p99: marked as such in the table.
  record "postgresql" "libpq" "yes (synchronous_commit)" "$throughput" "avg $latency"
  su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $scratch/pg -m fast stop" >/dev/null 2>&1 || true
}

run_surge
run_nginx
run_redis
run_postgres

surge_rate=$(awk -F'\t' '$1=="surge"{print $4}' "$results")
echo
echo "bench-peers: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $connections connections, ${seconds} s each, load generator on the same cores"
printf '%-14s %-16s %-28s %14s %10s %12s\n' peer protocol "durable per ack" "throughput/s" "p99 ms" "surge ratio"
while IFS=$'\t' read -r name protocol durable throughput p99; do
  ratio=$(awk -v a="$surge_rate" -v b="$throughput" 'BEGIN{if (b > 0) printf "%.2f", a / b; else print "-"}')
  printf '%-14s %-16s %-28s %14.0f %10s %12s\n' "$name" "$protocol" "$durable" "$throughput" "$p99" "$ratio"
done < "$results"
