"""A Python test sink for the integration tests: fails on purpose where `fail.in` says
(`start`, `put` or `connector.start`) with a Python exception, so the tests can check that the
exception and its traceback reach the task's trace. Otherwise it logs each batch and counts,
with a standard-library module first imported inside `put` (which the component has only
because build.sh loads such modules while it is built)."""

import wasm_connect as wc


class PyTestSink(wc.SinkConnector):
    description = "Test sink that fails on purpose (Python)."
    CONFIG_DEF = wc.ConfigDef().define(
        "fail.in",
        wc.ConfigType.STRING,
        default="",
        doc="Where to raise: start, put or connector.start; empty for nowhere.",
        validator=wc.ValidString("", "start", "put", "connector.start"),
    )

    def start(self, config):
        self.config = dict(config)
        if config.get("fail.in") == "connector.start":
            raise KeyError("python connector start failed on purpose")

    def task_configs(self, max_tasks):
        return [self.config] * max_tasks


def _explode(where):
    # A nested frame, so the traceback shows more than one line.
    raise ValueError(f"python {where} failed on purpose")


class PyTestSinkTask(wc.SinkTask):
    def start(self, config):
        self.fail_in = config.get_str("fail.in", "")
        if self.fail_in == "start":
            _explode("start")

    def put(self, records):
        if records and self.fail_in == "put":
            _explode(f"put at offset {records[0].offset}")
        if records:
            import csv
            import io

            line = io.StringIO()
            csv.writer(line).writerow([len(records), records[0].offset])
            wc.log("info", f"py-test-sink got records (count, first offset): {line.getvalue().strip()}")


Connector, SinkTask = wc.export_sink_connector(PyTestSink, PyTestSinkTask)
