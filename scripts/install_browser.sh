#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium and the pinned playwright-core
# (which drives it; it never downloads a browser of its own). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Try the lists already on the machine first (an update costs time on every CI run);
  # absent or stale lists make the install fail: then refresh and retry.
  apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core || {
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
  }
fi

want=$(node -p "require('./package-lock.json').packages['node_modules/playwright-core'].version")
have=$(node -p "try{require('./node_modules/playwright-core/package.json').version}catch(e){''}")
if [ "$want" != "$have" ]; then
  # ci installs exactly the lock file; playwright-core has no install script that
  # fetches browsers, and we set the skip flag anyway.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
echo "browser ready: $(/usr/bin/chromium --version 2>/dev/null), playwright-core $(node -p "require('./node_modules/playwright-core/package.json').version")"
