#!/usr/bin/env bash
# Runs every libFuzzer target of a SURGE_FUZZ build for a bounded time each, starting from the
# seed corpus in fuzz/<target>/ (if any) and keeping what it finds in a scratch corpus.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:?build dir}
seconds=${2:?seconds}
root=$(cd "$(dirname "$0")/.." && pwd)
targets=$(find "$build/src" -maxdepth 2 -type f -executable -name '*_fuzz' | sort)
if [ -z "$targets" ]; then
  echo "fuzz: no fuzz targets in $build" >&2
  exit 1
fi
for target in $targets; do
  name=$(basename "$target")
  corpus="$build/fuzz-corpus/$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "$root/fuzz/$name" ] && seeds=("$root/fuzz/$name")
  echo "fuzz: $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    "$corpus" "${seeds[@]}" 2>"$build/fuzz-$name.log" || {
    echo "fuzz: $name FAILED; see $build/fuzz-$name.log" >&2
    tail -n 40 "$build/fuzz-$name.log" >&2
    exit 1
  }
  grep -E 'stat::number_of_executed_units' "$build/fuzz-$name.log" | sed "s/^/fuzz: $name /"
done
echo "fuzz: $(echo "$targets" | wc -l) targets passed, 0 failed"
