#!/usr/bin/env bash
# The browser test of the API docs drives Debian's Chromium (/usr/bin/chromium); installs it when it is missing.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
[[ -x "$CHROMIUM" ]] && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "[chromium] $CHROMIUM is missing and cannot be installed here (needs apt-get as root): run 'apt-get install chromium'; the API docs browser test fails without it" >&2
  exit 0
fi
echo "[chromium] installing Debian's chromium (once)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
  echo "[chromium] apt-get install chromium failed; the API docs browser test fails without it" >&2
fi
