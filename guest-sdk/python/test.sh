#!/usr/bin/env bash
# Runs Python connectors' unit tests natively (CPython 3.11 or later), against bindings
# generated for their world and the fake host (tests/fakehost.py) in place of the worker:
#
#   guest-sdk/python/test.sh                   the SDK's tests and every example's
#   guest-sdk/python/test.sh <connector-dir>...  those connectors' tests (test_*.py)
#
# A connector's world (sink-connector or source-connector) is read from its app.py's export
# line, as build.sh does. Bindings go to target/polyglot/bindings/<world>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${WASM_CONNECT_PY_VENV:-$root/target/polyglot/py-venv}
if [ ! -x "$venv/bin/componentize-py" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
for world in sink-connector source-connector; do
    bindings=$root/target/polyglot/bindings/$world
    rm -rf "$bindings"
    "$venv/bin/componentize-py" -q -d "$root/wit" -w "$world" bindings "$bindings"
    # The generated exports module uses a method name (config_def) as a module in annotations,
    # which CPython 3.11 evaluates eagerly; the component's newer CPython does not. Defer them.
    sed -i '1i from __future__ import annotations' "$bindings/wit_world/exports/__init__.py"
done
export PYTHONDONTWRITEBYTECODE=1

world_of() {
    if grep -q 'export_source_connector(' "$1/app.py" 2>/dev/null; then
        echo source-connector
    else
        echo sink-connector
    fi
}

# The tests of one connector directory, with its world's bindings.
test_connector() {
    local dir world
    dir=$(cd "$1" && pwd)
    if ! ls "$dir"/test_*.py >/dev/null 2>&1; then
        echo "error: $1 has no test_*.py files" >&2
        return 1
    fi
    world=$(world_of "$dir")
    (cd "$dir" && PYTHONPATH="$root/target/polyglot/bindings/$world:$here/src:$here/tests:$dir" \
        python3 -m unittest discover -s . -p 'test_*.py')
}

if [ $# -gt 0 ]; then
    status=0
    for dir in "$@"; do
        test_connector "$dir" || status=1
    done
    exit $status
fi
PYTHONPATH="$root/target/polyglot/bindings/sink-connector:$here/src:$here/tests" \
    python3 -m unittest discover -s "$here/tests" -t "$here/tests"
for dir in "$root"/connectors/py-*/ "$root"/tests/polyglot-guests/py-*/; do
    if ls "$dir"/test_*.py >/dev/null 2>&1; then
        test_connector "$dir"
    fi
done
