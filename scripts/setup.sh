#!/usr/bin/env bash
# Installs what keygate needs on Debian bookworm (root), then configures and builds it.
# Usage: scripts/setup.sh [Release|Debug]   (build directory: ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
build_type="${1:-Release}"

packages=(cmake g++ ninja-build pkg-config libboost1.81-dev libboost-url1.81-dev libsodium-dev
          rapidjson-dev catch2 libcli11-dev libsqlite3-dev libssl-dev libmimalloc-dev ca-certificates
          openssl libpq-dev)
# scripts/test.sh adds the PostgreSQL server, which only the tests use (a throwaway cluster).
read -r -a extra <<< "${KEYGATE_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the official-SDK client tests; a machine that already has node keeps it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== building keygate ($build_type)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type"
cmake --build build -j "$(nproc)"
