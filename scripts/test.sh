#!/usr/bin/env bash
# `npm test`: everything a fresh clone needs, then every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[test] npm ci"
npm ci --no-audit --no-fund
echo "[test] toolchain (with the local Kubernetes control plane for test/cluster.test.ts)"
bash scripts/bootstrap.sh --cluster >/dev/null
echo "[test] browser"
bash scripts/chromium.sh
echo "[test] promtool"
bash scripts/prometheus.sh
echo "[test] lint"
npx eslint .
echo "[test] typecheck"
npx tsc -p tsconfig.json
echo "[test] jest (real MariaDB ${DB_HOST:-127.0.0.1}:${DB_PORT:-3306}, Redis ${REDIS_HOST:-127.0.0.1}:${REDIS_PORT:-6379}, daprd)"
npx jest --runInBand "$@"
