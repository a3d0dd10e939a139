"""py-jsonl-sink's component entry point: componentize-py instantiates `Connector` and
`SinkTask` from this module. The connector lives in jsonl_sink.py."""

import wasm_connect

from jsonl_sink import JsonlSink, JsonlSinkTask

Connector, SinkTask = wasm_connect.export_sink_connector(JsonlSink, JsonlSinkTask)
