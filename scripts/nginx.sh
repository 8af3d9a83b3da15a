#!/usr/bin/env bash
# The local edge is nginx, as the production ingress (ingress-nginx) is: Debian's nginx-light, installed when
# missing. Its service is not started (no init system runs here); the stack starts nginx itself with its own config.
set -euo pipefail
PATH="$PATH:/usr/sbin:/usr/local/sbin"
command -v nginx >/dev/null && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "[nginx] nginx is missing and cannot be installed here (needs apt-get as root): run 'apt-get install nginx-light'; the edge of npm start, the tests and the bench is nginx" >&2
  exit 1
fi
echo "[nginx] installing Debian's nginx-light for the local edge (once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
