#!/usr/bin/env bash
# Builds every Python example connector (connectors/py-*) and Python test guest
# (tests/polyglot-guests/py-*) into
# target/wasm32-wasip2/wasm/<name>.wasm, e.g. connectors/py-jsonl-sink -> py_jsonl_sink.wasm,
# next to the Rust connectors `cargo build-connectors` builds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
for dir in "$root"/connectors/py-*/ "$root"/tests/polyglot-guests/py-*/; do
    [ -f "$dir/app.py" ] || continue
    name=$(basename "$dir" | tr - _)
    "$here/build.sh" "$dir" "$root/target/wasm32-wasip2/wasm/$name.wasm"
done
