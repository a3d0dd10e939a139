#!/usr/bin/env bash
# Runs the SDK's and the Python example connectors' unit tests natively, against bindings
# generated for the sink-connector world (target/polyglot/bindings/sink-connector).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${WASM_CONNECT_PY_VENV:-$root/target/polyglot/py-venv}
if [ ! -x "$venv/bin/componentize-py" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
bindings=$root/target/polyglot/bindings/sink-connector
rm -rf "$bindings"
"$venv/bin/componentize-py" -q -d "$root/wit" -w sink-connector bindings "$bindings"
# The generated exports module uses a method name (config_def) as a module in annotations, which
# CPython 3.11 evaluates eagerly; the component's newer CPython does not. Defer them natively.
sed -i '1i from __future__ import annotations' "$bindings/wit_world/exports/__init__.py"
export PYTHONPATH="$bindings:$here/src:$here/tests"
export PYTHONDONTWRITEBYTECODE=1
python3 -m unittest discover -s "$here/tests" -t "$here/tests" "$@"
for dir in "$root"/connectors/py-*/; do
    if ls "$dir"/test_*.py >/dev/null 2>&1; then
        (cd "$dir" && PYTHONPATH="$PYTHONPATH:$dir" python3 -m unittest discover -s . "$@")
    fi
done
