#!/usr/bin/env bash
# Installs, builds, initialises ./data on first run (printing the admin token once), and serves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh Release
if [ ! -f data/keygate.db ]; then
  echo "== first run: creating ./data; the admin token below is shown only once"
  build/keygate init --data data
fi
exec build/keygate serve --data data "$@"
