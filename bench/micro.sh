#!/usr/bin/env bash
# keygate micro-benchmark (issue: performance): the per-request work apart from I/O — token
# lookup, key resolution and decryption, the request JSON rewrite, response translation and SSE
# translation per event — timed with Google Benchmark on the library code the gateway runs.
# A benchmark, not a test: CI does not build it (KEYGATE_BUILD_BENCH is off by default).
#
# Usage: bench/micro.sh [benchmark flags], e.g.
#   bench/micro.sh --benchmark_filter=token
#   bench/micro.sh --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
# Environment: KEYGATE_BENCH_BUILD_DIR (default build-bench), KEYGATE_BENCH_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

# Google Benchmark from Debian, installed (as root, like scripts/setup.sh) if missing.
if ! dpkg-query -W -f='${Status}' libbenchmark-dev 2>/dev/null |
  grep -q "install ok installed"; then
  echo "== installing libbenchmark-dev"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libbenchmark-dev
fi

build_dir="${KEYGATE_BENCH_BUILD_DIR:-build-bench}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYGATE_BUILD_BENCH=ON \
  -DKEYGATE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" --target keygate_micro -j "${KEYGATE_BENCH_JOBS:-$(nproc)}"
exec "$build_dir/keygate_micro" "$@"
