#!/usr/bin/env bash
# The quickstart: copy a file through the embedded log with Kafka's FileStream connectors
# (file-source → embedded log → file-sink), then stop the worker with SIGTERM and compare.
# Needs nothing but the Rust toolchain; builds what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-100000}
rustup target add wasm32-wasip2 >/dev/null
cargo build-connectors -j2
cargo build --release -j2 -p wasm-connect

rm -rf examples/data
mkdir -p examples/data/files
seq -f 'hello wasm-connect %g' 1 "$LINES" > examples/data/files/input.txt

./target/release/wasm-connect standalone examples/quickstart/worker.properties \
    examples/quickstart/file-source.properties examples/quickstart/file-sink.properties \
    2> examples/data/worker.log &
worker=$!
trap 'kill $worker 2>/dev/null || true' EXIT

start=$(date +%s)
until [ -f examples/data/files/output.txt ] && [ "$(wc -l < examples/data/files/output.txt)" -ge "$LINES" ]; do
    if ! kill -0 "$worker" 2>/dev/null; then
        echo "the worker exited early; see examples/data/worker.log" >&2
        exit 1
    fi
    if [ $(( $(date +%s) - start )) -gt 120 ]; then
        echo "timed out waiting for the copy; see examples/data/worker.log" >&2
        exit 1
    fi
    sleep 0.2
done
# What is in the embedded log, asked of the running worker (through its REST API).
./target/release/wasm-connect topics list examples/quickstart/worker.properties
./target/release/wasm-connect topics consume examples/quickstart/worker.properties connect-test --max-records 3
kill -TERM "$worker"
wait "$worker"
trap - EXIT

if cmp -s examples/data/files/input.txt examples/data/files/output.txt; then
    echo "Quickstart OK: copied $LINES lines from examples/data/files/input.txt to examples/data/files/output.txt through the embedded log."
else
    echo "Quickstart FAILED: output differs from input" >&2
    exit 1
fi
