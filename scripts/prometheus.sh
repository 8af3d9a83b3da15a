#!/usr/bin/env bash
# The alert-rule tests run promtool, from Debian's prometheus package (2.42: a prebuilt Prometheus and promtool; the
# Go module proxy's Prometheus 3 would be a long build of every service-discovery SDK). Installs it when missing; the
# package's service is not started (no init system runs here; policy-rc.d denies it in containers).
set -euo pipefail
command -v promtool >/dev/null && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "[prometheus] promtool is missing and cannot be installed here (needs apt-get as root): run 'apt-get install prometheus'; the alert-rule tests fail without it" >&2
  exit 0
fi
echo "[prometheus] installing Debian's prometheus for promtool (once)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
  echo "[prometheus] apt-get install prometheus failed; the alert-rule tests fail without it" >&2
fi
