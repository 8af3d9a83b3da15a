#!/usr/bin/env bash
# `npm start`: installs what is missing, then brings the whole stack up (see scripts/start.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[start] installing npm dependencies (npm ci)..."
  npm ci --no-audit --no-fund
fi
bash scripts/bootstrap.sh >/dev/null
exec node --import tsx scripts/start.ts "$@"
