#!/usr/bin/env bash
# The web console's end-to-end tests in headless Chromium against real workers on loopback.
# Needs target/debug/wasm-connect and the test components (`cargo build -p wasm-connect` and
# `cargo build-connectors`), Debian's chromium, and node/npm (playwright-core and axe-core are
# installed from the pinned package-lock.json on first use). Screenshots land in
# target/console-screenshots/.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]]; then
    echo "error: no Chromium at ${CHROMIUM:-/usr/bin/chromium}; install Debian's chromium (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
fi
if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test --test-concurrency=1 --test-reporter=spec console.test.mjs
