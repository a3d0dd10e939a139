#!/usr/bin/env bash
# Builds a Python connector into a wasm-connect component with componentize-py:
#
#   guest-sdk/python/build.sh <connector-dir> <out.wasm>
#
# <connector-dir> holds `app.py`, which ends with
#   Connector, SinkTask = wasm_connect.export_sink_connector(MyConnector, MyTask)      (a sink)
#   Connector, SourceTask = wasm_connect.export_source_connector(MyConnector, MyTask)  (a source)
# The world (sink-connector or source-connector) is read from that line; WASM_CONNECT_WORLD
# overrides it. The toolchain (componentize-py, pinned in requirements.txt) lives in a venv under
# target/polyglot/py-venv, created on first use; nothing is rebuilt when no input changed.
set -euo pipefail

usage() { echo "usage: $0 <connector-dir> <out.wasm>" >&2; exit 2; }
[ $# -eq 2 ] || usage
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=$(cd "$1" 2>/dev/null && pwd) || { echo "error: connector directory $1 does not exist" >&2; exit 2; }
out=$2
[ -f "$dir/app.py" ] || { echo "error: $dir has no app.py (the module componentize-py builds)" >&2; exit 2; }

# The toolchain: reinstalled only when requirements.txt changes.
venv=${WASM_CONNECT_PY_VENV:-$root/target/polyglot/py-venv}
requirements=$here/requirements.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/componentize-py" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing componentize-py into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
fi

# Which world.
if [ -n "${WASM_CONNECT_WORLD:-}" ]; then
    world=$WASM_CONNECT_WORLD
elif grep -q 'export_sink_connector(' "$dir/app.py" && ! grep -q 'export_source_connector(' "$dir/app.py"; then
    world=sink-connector
elif grep -q 'export_source_connector(' "$dir/app.py" && ! grep -q 'export_sink_connector(' "$dir/app.py"; then
    world=source-connector
else
    echo "error: $dir/app.py must call exactly one of wasm_connect.export_sink_connector(...) or" \
        "wasm_connect.export_source_connector(...) (or set WASM_CONNECT_WORLD)" >&2
    exit 2
fi

# Up to date: the output is newer than every input.
inputs=("$dir" "$here/src" "$here/scripts" "$root/wit" "$stamp" "$0")
if [ -f "$out" ] && [ -z "$(find "${inputs[@]}" -type f -newer "$out" -not -path '*/__pycache__/*' -print -quit)" ]; then
    echo "$out is up to date" >&2
    exit 0
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
stage=$(mktemp -d "${TMPDIR:-/tmp}/wasm-connect-py.XXXXXX")
trap 'rm -f "$tmp"; rm -rf "$stage"' EXIT
# A copy of the connector whose app.py also imports, at module level, every module its code
# imports anywhere: componentize-py keeps only what is imported while it snapshots app.py,
# so a module first imported inside a method would be missing when that method runs.
(cd "$dir" && tar --exclude=./__pycache__ -cf - .) | (cd "$stage" && tar -xf -)
python3 "$here/scripts/preload.py" "$dir" "$here/src" >>"$stage/app.py"
# No bytecode caches in the source tree (componentize-py copies the path into the component).
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/componentize-py" -q -d "$root/wit" -w "$world" \
    componentize app -p "$stage" -p "$here/src" -o "$tmp"
mv "$tmp" "$out"
echo "built $out ($world, $(stat -c %s "$out") bytes)" >&2
