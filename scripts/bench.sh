#!/usr/bin/env bash
# Runs every Google Benchmark binary in bench/ and prints what it measured.
set -euo pipefail
build=${1:?build dir}
for binary in $(find "$build/bench" -maxdepth 1 -type f -executable -name '*_bench' | sort); do
  echo "== $(basename "$binary")"
  "$binary" --benchmark_counters_tabular=true
done
