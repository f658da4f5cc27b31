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
# Node.js and npm run the official-SDK client tests and the profile-guided build's training; a
# machine that already has node keeps it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Profile-guided optimisation (Release; KEYGATE_PGO=0 turns it off). An instrumented keygate is
# built in build/pgo-train and run by scripts/pgo_train.mjs against loopback mocks; the profile
# it leaves in build/pgo-profile then shapes the real build (CMakeLists.txt, KEYGATE_PGO). It is
# trained again only when a source is newer than the last training; a new training recompiles
# keygate's objects in ./build (their dependency on the stamp `trained`).
pgo=(-DKEYGATE_PGO=)
if [ "$build_type" = Release ] && [ "${KEYGATE_PGO:-1}" != 0 ]; then
  profile="$PWD/build/pgo-profile"
  stamp="$profile/trained"
  sources=(CMakeLists.txt schema keystore providers router gateway scripts/pgo_train.mjs
           tests/clients/harness.mjs tests/clients/mock_*.mjs)
  if [ ! -f "$stamp" ] || [ -n "$(find "${sources[@]}" -newer "$stamp" -type f | head -1)" ]; then
    echo "== profile-guided build: building an instrumented keygate and training it"
    # The stamp takes the time the training started: a source edited from then on is newer.
    mkdir -p build/pgo-train
    touch build/pgo-train/training-started
    cmake -S . -B build/pgo-train -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYGATE_BUILD_TESTS=OFF \
          -DKEYGATE_PGO=generate -DKEYGATE_PGO_DIR="$profile"
    cmake --build build/pgo-train --target keygate -j "$(nproc)"
    rm -rf "$profile"  # counters add up across runs: each training starts from none
    node scripts/pgo_train.mjs build/pgo-train/keygate
    if ! compgen -G "$profile/*.gcda" >/dev/null; then
      echo "profile-guided build: the training left no profile in $profile" >&2
      exit 1
    fi
    touch -r build/pgo-train/training-started "$stamp"
  fi
  pgo=(-DKEYGATE_PGO=use -DKEYGATE_PGO_DIR="$profile")
fi

echo "== building keygate ($build_type)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "${pgo[@]}"
cmake --build build -j "$(nproc)"
