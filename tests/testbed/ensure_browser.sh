#!/usr/bin/env bash
# Debian's Chromium for the console's browser test (Molecule scenario
# cluster, Playwright driving /usr/bin/chromium): installed as root when
# missing. No test tool downloads a browser of its own.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "ensure_browser: /usr/bin/chromium is missing and this is not root; apt-get install chromium" >&2
  exit 1
fi
echo "ensure_browser: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
