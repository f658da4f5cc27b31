#!/usr/bin/env bash
# Installs, builds, installs the client-test npm packages, and runs every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The PostgreSQL tests start their own throwaway server (tests/postgres_server.sh).
KEYGATE_EXTRA_PACKAGES="postgresql" scripts/setup.sh "${KEYGATE_BUILD_TYPE:-Release}"
if [ -f tests/clients/package.json ]; then
  echo "== installing the official SDKs for the client tests"
  (cd tests/clients && npm install --no-audit --no-fund --loglevel=error)
fi
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 300
