"""Native unit tests of py-jsonl-sink (run by guest-sdk/python/test.sh)."""

import json
import os
import tempfile
import unittest

import fakehost
import wasm_connect as wc

from jsonl_sink import JsonlSink, JsonlSinkTask

TP = wc.TopicPartition("t", 0)


def records(start, end, value=lambda i: f"v{i}"):
    return [wc.SinkRecord("t", 0, i, value=value(i)) for i in range(start, end)]


class JsonlSinkTest(unittest.TestCase):
    def setUp(self):
        self.host = fakehost.install()
        self.dir = tempfile.mkdtemp()

    def task(self, **extra):
        task = JsonlSinkTask()
        task.context = wc.SinkTaskContext()
        config = {"directory": self.dir, "format": "value", "rotate.max.records": "3"}
        config.update(extra)
        task.start(wc.Config(config))
        task.open([TP])
        self.addCleanup(task.stop)
        return task

    def files(self):
        return sorted(f for f in os.listdir(self.dir) if f.endswith(".jsonl"))

    def values(self):
        out = []
        for name in self.files():
            with open(os.path.join(self.dir, name), encoding="utf-8") as f:
                out.extend(json.loads(line) for line in f)
        return out

    def test_rolls_by_record_count_and_names_files_by_first_offset(self):
        task = self.task()
        task.put(records(0, 7))
        self.assertEqual(task.pre_commit({TP: 7}), {TP: 7})
        self.assertEqual(
            self.files(),
            ["t-0-00000000000000000000.jsonl", "t-0-00000000000000000003.jsonl", "t-0-00000000000000000006.jsonl"],
        )
        self.assertEqual(self.values(), [f"v{i}" for i in range(7)])

    def test_rolls_by_size(self):
        task = self.task(**{"rotate.max.records": "0", "rotate.max.bytes": "10"})
        task.put(records(0, 4, value=lambda i: "x" * 8))  # 11 bytes a line: one line a file
        task.pre_commit({TP: 4})
        self.assertEqual(len(self.files()), 4)

    def test_a_restart_truncates_uncommitted_lines_and_rewinds_to_the_committed_offset(self):
        task = self.task()
        task.put(records(0, 5))
        self.assertEqual(task.pre_commit({TP: 5}), {TP: 5})
        task.put(records(5, 8))  # written, never committed: starts file 6 too
        task.stop()
        self.assertEqual(len(self.values()), 8)

        again = self.task()
        self.assertEqual(self.host.resets, [("t", 0, 5)], "rewound to the committed offset")
        self.assertEqual(self.values(), [f"v{i}" for i in range(5)], "uncommitted lines dropped")
        # Redelivered from 5 (and an old duplicate the host might still send): written once.
        again.put(records(4, 9))
        self.assertEqual(again.pre_commit({TP: 9}), {TP: 9})
        self.assertEqual(self.values(), [f"v{i}" for i in range(9)])

    def test_envelope_format_carries_metadata_and_connect_types(self):
        task = self.task(format="envelope")
        schema = wc.SchemaBuilder.struct().field("b", wc.BYTES_SCHEMA).field("m", wc.SchemaBuilder.map(
            wc.INT32_SCHEMA, wc.STRING_SCHEMA).build()).build()
        task.put([wc.SinkRecord("t", 0, 0, key="k", value=wc.Struct(schema, b=b"\x00\x01", m={1: "a"}),
                                value_schema=schema, timestamp=5)])
        task.pre_commit({TP: 1})
        [line] = self.values()
        self.assertEqual(
            line,
            {"topic": "t", "partition": 0, "offset": 0, "timestamp": 5, "key": "k",
             "value": {"b": "AAE=", "m": [[1, "a"]]}},
        )

    def test_unwritable_values_go_to_the_errant_record_reporter(self):
        task = self.task()
        task.put([wc.SinkRecord("t", 0, 0, value=float("nan")), wc.SinkRecord("t", 0, 1, value=object())])
        self.assertEqual(len(self.host.reports), 1)
        self.assertEqual(self.host.reports[0][:3], ("t", 0, 1))
        self.assertEqual(task.pre_commit({TP: 2}), {TP: 2})
        self.assertEqual(self.values(), ["nan"])

    def test_the_connector_requires_a_granted_absolute_directory(self):
        connector = JsonlSink()
        errors = lambda config: [e for v in connector.validate(wc.Config(config)) for e in v.errors]
        self.assertEqual(errors({"directory": "/data/out", "sandbox.fs.write": "/data"}), [])
        self.assertIn("grant it with sandbox.fs.write=/data/out", errors({"directory": "/data/out"})[0])
        self.assertIn("absolute path", errors({"directory": "out", "sandbox.fs.write": "out"})[0])


if __name__ == "__main__":
    unittest.main()
