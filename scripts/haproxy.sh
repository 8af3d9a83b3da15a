#!/usr/bin/env bash
# The local edge is HAProxy (see packages/edge): Debian's haproxy, installed when missing. Its service is not started
# (no init system runs here); the stack starts HAProxy itself with its own configuration.
set -euo pipefail
PATH="$PATH:/usr/sbin:/usr/local/sbin"
command -v haproxy >/dev/null && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "[haproxy] haproxy is missing and cannot be installed here (needs apt-get as root): run 'apt-get install haproxy'; the edge of npm start, the tests and the bench is HAProxy" >&2
  exit 1
fi
echo "[haproxy] installing Debian's haproxy for the local edge (once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends haproxy >/dev/null
