#!/usr/bin/env bash
# Installs the pinned JavaScript toolchain (package-lock.json) into guest-sdk/js/node_modules,
# unless it is there already. build.sh and build-examples.sh call it.
#
# Not `npm ci`: it refuses this lockfile, because some optional platform packages that jco,
# componentize-qjs and rolldown list were never published (e.g.
# @andreiltd/componentize-qjs-binding-linux-arm64-musl@0.4.5), so npm leaves them out of the
# lock and then calls the lock out of sync. `npm install --no-save` installs the locked versions,
# checks them against the lock's integrity hashes, and leaves package-lock.json untouched.
set -euo pipefail
sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -x "$sdk/node_modules/.bin/componentize-qjs" && -x "$sdk/node_modules/.bin/tsc" ]] && exit 0
command -v npm >/dev/null || { echo "error: npm (with node 20 or later) is needed to build JavaScript connectors" >&2; exit 1; }
echo "Installing the JavaScript toolchain into $sdk/node_modules (npm install, ~30 s)..." >&2
(cd "$sdk" && npm install --no-save --no-audit --no-fund --loglevel=error >&2)
want="$(node -p 'require(process.argv[1]).dependencies["componentize-qjs"]' "$sdk/package.json")"
got="$(node -p 'require(process.argv[1]).version' "$sdk/node_modules/componentize-qjs/package.json")"
[[ $want == "$got" ]] || { echo "error: installed componentize-qjs $got, but package.json pins $want" >&2; exit 1; }
