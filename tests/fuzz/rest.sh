#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis against a real `wasm-connect standalone` worker: every
# operation of host/openapi.json (fetched from the worker's own GET /openapi.json) with
# generated valid and invalid requests, then sequences that follow the document's links
# (create a connector, then act on it); tests/fuzz/hooks.py completes many generated configs
# into real connectors' configs. It fails on any 5xx or any response (status, content
# type, headers, body) the document does not describe, and on fewer than MIN_REQUESTS requests.
# Also checks that malformed JSON is a 400 with a message.
#
# Usage: tests/fuzz/rest.sh
# Environment: EXAMPLES (per operation, default 60), SEED, MIN_REQUESTS (default 1000), CHECKS
# and PHASES (schemathesis's --checks and --phases), KEEP_WORK=1 (keep the worker's directory,
# its log and the report).
# Needs python3 (venv); installs the pinned schemathesis into target/fuzz/venv on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
examples=${EXAMPLES:-60}
min_requests=${MIN_REQUESTS:-1000}
# A fixed seed by default, so CI is repeatable; SEED=$RANDOM explores.
seed=${SEED:-18081}
checks=${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,unsupported_method,use_after_free,ensure_resource_availability}

venv=target/fuzz/venv
if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version 4.32.5"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/fuzz/requirements.txt
fi
binary=target/debug/wasm-connect
cargo build -j2 -p wasm-connect --quiet

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
mkdir -p "$work/plugins" "$work/files"
# A hermetic worker: file grants only inside its files directory and no network for
# connectors the fuzzer creates, an empty plugin.path, everything under the temporary
# directory.
cat > "$work/worker.properties" <<PROPERTIES
listeners=$base
data.dir=$work/data
plugin.path=$work/plugins
sandbox.fs.allowed.roots=$work/files
sandbox.http.enabled=false
PROPERTIES
(cd "$work" && exec "$root/$binary" standalone worker.properties >worker.log 2>&1) &
worker=$!
cleanup() {
    kill "$worker" 2>/dev/null || true
    wait "$worker" 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

for _ in $(seq 1 600); do
    if curl -fs "$base/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$worker" 2>/dev/null; then
        echo "the worker exited:" >&2; cat "$work/worker.log" >&2; exit 1
    fi
    sleep 0.1
done
curl -fs "$base/health" >/dev/null || { echo "the worker did not come up on $base" >&2; cat "$work/worker.log" >&2; exit 1; }

failed=0
# Things for the fuzzer to find (tests/fuzz/schemathesis.toml names them): the test guests as
# uploaded plugins, a running source and sink on the files directory, and a stopped connector
# (whose offsets may change).
for guest in test_source test_sink; do
    component=target/wasm32-wasip2/wasm/$guest.wasm
    if [ -f "$component" ]; then
        curl -fs -o /dev/null -X POST -H 'Content-Type: application/wasm' --data-binary "@$component" \
            "$base/connector-plugins" || { echo "uploading $component failed" >&2; exit 1; }
    fi
done
create() {
    curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' --data "$1" "$base/connectors" \
        || { echo "creating $1 failed" >&2; exit 1; }
}
create '{"name": "fuzz-source", "config": {"connector.class": "FileStreamSource", "file": "files/in.txt", "topic": "lines", "tasks.max": "1"}}'
create '{"name": "fuzz-sink", "config": {"connector.class": "FileStreamSink", "file": "files/out.txt", "topics": "lines"}}'
create '{"name": "fuzz-stopped", "config": {"connector.class": "FileStreamSource", "file": "files/in.txt", "topic": "lines"}, "initial_state": "STOPPED"}'

# Malformed JSON on every JSON-consuming operation: 400 with Kafka Connect's error body.
for request in "POST /connectors" "PUT /connectors/x/config" "PATCH /connectors/x/config" \
    "PATCH /connectors/x/offsets" "PUT /connector-plugins/FileStreamSource/config/validate" \
    "PUT /admin/loggers/root" "POST /topics/x/records"; do
    set -- $request
    reply=$(curl -s -o "$work/reply" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
        --data '{"name": "x", "config": {' "$base$2")
    if [ "$reply" != 400 ] || ! python3 -c 'import json, sys; b = json.load(open(sys.argv[1])); sys.exit(not (b["error_code"] == 400 and b["message"]))' "$work/reply"; then
        echo "malformed JSON to $1 $2: HTTP $reply $(cat "$work/reply")" >&2
        failed=1
    fi
done

report=$work/report
set +e
# From the temporary directory, where schemathesis keeps its cache (.schemathesis). One worker:
# concurrent scenarios on the same random names would see each other's connectors.
(cd "$work" && SCHEMATHESIS_HOOKS="$root/tests/fuzz/hooks.py" "$root/$venv/bin/st" --config-file "$root/tests/fuzz/schemathesis.toml" run "$base/openapi.json" \
    --checks "$checks" \
    --phases "${PHASES:-examples,coverage,fuzzing,stateful}" \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --request-timeout 30 \
    --suppress-health-check all \
    --report ndjson --report-ndjson-path "$report.ndjson" \
    --output-truncate true)
status=$?
set -e
[ "$status" -eq 0 ] || failed=1

requests=$(python3 - "$report.ndjson" <<'PYTHON'
import json, sys
count = 0
for line in open(sys.argv[1]):
    event = json.loads(line)
    # Each ScenarioFinished event carries the scenario's recorded interactions.
    for kind, body in event.items():
        if kind == "ScenarioFinished":
            count += len(body.get("recorder", {}).get("interactions", {}))
print(count)
PYTHON
)
echo "schemathesis sent $requests requests (seed $seed)"
if [ "$requests" -lt "$min_requests" ]; then
    echo "fewer than $min_requests requests: raise EXAMPLES" >&2
    failed=1
fi
if ! kill -0 "$worker" 2>/dev/null; then
    echo "the worker died during the run:" >&2; tail -50 "$work/worker.log" >&2; failed=1
fi
if [ "$failed" -ne 0 ]; then
    echo "worker log (last lines):" >&2; tail -30 "$work/worker.log" >&2
fi
exit "$failed"
