#!/usr/bin/env bash
# Installs Debian's Chromium for the Web UI browser test (test/browser/), only if it is missing.
# Playwright (playwright-core) drives this system browser: no browser is ever downloaded by a test
# tool. `npm test` runs it first, so a fresh machine needs nothing installed by hand.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo present) at $CHROMIUM"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium is missing and this is not root: install it with 'apt-get install chromium'" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
echo "chromium: $(/usr/bin/chromium --version) installed"
