#!/usr/bin/env bash
# Builds every JavaScript example connector (connectors/js-*, and guest-sdk/js/examples/* as
# js_<name>) into target/wasm32-wasip2/wasm/<name>.wasm (dashes become underscores, as cargo
# names components),
# where the integration tests and plugin.path setups find them. First it checks that the
# checked-in TypeScript declarations match wit/ and compile, and runs the SDK's unit tests and
# the examples' own (`test/` beside their `package.json`; about three seconds together).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sdk="$root/guest-sdk/js"
"$sdk/scripts/install.sh"
node "$sdk/scripts/gen-types.mjs" --check
"$sdk/node_modules/.bin/tsc" -p "$sdk" || {
  echo "error: the TypeScript declarations do not compile (tsc -p guest-sdk/js)" >&2
  exit 1
}
node --test "$sdk/test/" >/dev/null || {
  node --test "$sdk/test/" >&2 || true
  echo "error: the JavaScript SDK's unit tests failed (node --test guest-sdk/js/test/)" >&2
  exit 1
}
# Each example's own tests, as an author runs them (guest-sdk/js/test.sh <connector-dir>).
for dir in "$root"/connectors/js-*/ "$sdk"/examples/*/; do
  [[ -d "$dir/test" ]] || continue
  "$sdk/test.sh" "$dir" >/dev/null || {
    "$sdk/test.sh" "$dir" >&2 || true
    echo "error: the unit tests of $dir failed (guest-sdk/js/test.sh $dir)" >&2
    exit 1
  }
done
out="$root/target/wasm32-wasip2/wasm"
built=0
for dir in "$root"/connectors/js-*/; do
  [[ -f "$dir/package.json" ]] || continue
  name="$(basename "$dir")"
  "$root/guest-sdk/js/build.sh" "$dir" "$out/${name//-/_}.wasm"
  built=$((built + 1))
done
for dir in "$sdk"/examples/*/; do
  [[ -f "$dir/package.json" ]] || continue
  name="js-$(basename "$dir")"
  "$sdk/build.sh" "$dir" "$out/${name//-/_}.wasm"
done
[[ $built -gt 0 ]] || { echo "error: no connectors/js-*/package.json found" >&2; exit 1; }
