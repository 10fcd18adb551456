#!/usr/bin/env bash
# Installs what the tests need besides Rust: Chromium (Debian's package) and the one npm
# package the portal's browser test drives it with (crates/cli/tests/browser).
# Usage: scripts/install-test-tools.sh   (idempotent; needs apt-get and npm)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    sudo_if_needed=""
    if [ "$(id -u)" -ne 0 ]; then sudo_if_needed="sudo"; fi
    $sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null 2>&1; then
    echo "Node.js is missing: install it (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
npm ci --prefix crates/cli/tests/browser --no-audit --no-fund --loglevel=error
echo "test tools ready: $(/usr/bin/chromium --version 2>/dev/null), node $(node --version)"
