#!/usr/bin/env bash
# Runs a JavaScript connector's unit tests under Node: `node --test <connector-dir>/test/`,
# with "wasm-connect-sdk" resolving to this SDK (no node_modules link needed) and its host
# double (`wasm-connect-sdk/src/testing.js`) standing in for the worker: logs, offsets, sink
# context, dead-letter reports, granted directories behind `fs`, and `validate`.
#   guest-sdk/js/test.sh connectors/js-line-sink [more connector dirs...]
set -euo pipefail
sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -gt 0 ]] || { echo "usage: $0 <connector-dir>..." >&2; exit 2; }
status=0
for dir in "$@"; do
  if [[ ! -d "$dir/test" ]]; then
    echo "error: $dir has no test/ directory (put *.test.js files there)" >&2
    status=1
    continue
  fi
  node --import "$sdk/scripts/resolve-sdk.mjs" --test "$dir/test/" || status=1
done
exit $status
