"""Unit tests of the SDK against the generated bindings, natively (run by ../test.sh)."""

import datetime
import decimal
import unittest

import fakehost
import wasm_connect as wc
from componentize_py_types import Err
from wasm_connect import _codec, _glue
from wit_world.exports import sink_task as wit_sink
from wit_world.imports import types as wit

ROW = (
    wc.SchemaBuilder.struct()
    .name("com.example.Row")
    .field("id", wc.INT64_SCHEMA)
    .field("name", wc.OPTIONAL_STRING_SCHEMA)
    .field("tags", wc.SchemaBuilder.array(wc.STRING_SCHEMA).build())
    .field("scores", wc.SchemaBuilder.map(wc.STRING_SCHEMA, wc.FLOAT64_SCHEMA).build())
    .field("price", wc.SchemaBuilder.decimal(2).build())
    .field("day", wc.SchemaBuilder.date().build())
    .field("at", wc.SchemaBuilder.timestamp().build())
    .field("small", wc.SchemaBuilder.int8().default_value(7).build())
    .build()
)


def row():
    return wc.Struct(
        ROW,
        id=1,
        name="a",
        tags=["x", "y"],
        scores={"m": 1.5},
        price=decimal.Decimal("-12.34"),
        day=datetime.date(2024, 2, 29),
        at=datetime.datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=datetime.timezone.utc),
    )


class DataModelTest(unittest.TestCase):
    def test_struct_checks_values_against_field_schemas(self):
        s = wc.Struct(ROW)
        with self.assertRaisesRegex(wc.DataError, "out of range for INT8"):
            s.put("small", 300)
        with self.assertRaisesRegex(wc.DataError, "not a field"):
            s.put("nope", 1)
        with self.assertRaisesRegex(wc.DataError, "field 'id'"):
            s.validate()
        self.assertEqual(s["small"], 7, "unset fields read their default")

    def test_round_trip_through_the_wit_tables(self):
        table = _codec.SchemaTable()
        first = table.encode_data(row(), ROW, "value")
        second = table.encode_data(row(), ROW, "value")
        self.assertEqual(first.schema, second.schema, "a schema is written once per batch")
        self.assertEqual(len(table.schemas), 1 + 8 + 1 + 2, "the struct, its fields, array and map children")
        schemas = _codec.decode_schemas(table.schemas)
        value, schema = _codec.decode_data(first, schemas)
        self.assertEqual(schema, ROW)
        self.assertEqual(value, row())
        self.assertEqual(value["price"], decimal.Decimal("-12.34"))
        self.assertEqual(value["at"].isoformat(), "2024-01-01T12:00:00.123000+00:00")
        self.assertEqual(schemas[0].field("small").schema.default, 7)

    def test_decimal_encoding_matches_kafka(self):
        # BigInteger.toByteArray of the unscaled value.
        self.assertEqual(wc.data.decimal_to_bytes(decimal.Decimal("1.00"), 2), b"\x64")
        self.assertEqual(wc.data.decimal_to_bytes(decimal.Decimal("-1.28"), 2), b"\x80")
        self.assertEqual(wc.data.decimal_to_bytes(decimal.Decimal("1.28"), 2), b"\x00\x80")
        with self.assertRaisesRegex(wc.DataError, "more than 2 decimal places"):
            wc.data.decimal_to_bytes(decimal.Decimal("1.001"), 2)

    def test_schemaless_values_follow_python_types(self):
        nodes = _codec.encode_value({"a": [1, 2.5, None, True, b"x"]}, None)
        kinds = [type(n).__name__.split("_")[1] for n in nodes]
        self.assertEqual(kinds, ["Map", "String", "Array", "Int64", "Float64", "Null", "Boolean", "Bytes"])
        self.assertEqual(_codec.decode_value(nodes, None), {"a": [1, 2.5, None, True, b"x"]})
        with self.assertRaisesRegex(wc.DataError, "no schemaless Connect form"):
            _codec.encode_value(decimal.Decimal(1), None)

    def test_malformed_tables_are_rejected(self):
        backwards = [wit.ValueNode_Array([0])]
        with self.assertRaisesRegex(wc.DataError, "not after it"):
            _codec.decode_value(backwards, None)
        schema = wit.Schema(wit.SchemaType.ARRAY, False, None, None, None, [], None, 0, None, [])
        with self.assertRaisesRegex(wc.DataError, "not after it"):
            _codec.decode_schemas([schema])
        with self.assertRaisesRegex(wc.DataError, "empty value tree"):
            _codec.decode_value([], None)


    def test_primitives_cross_as_themselves_and_containers_as_trees(self):
        table = _codec.SchemaTable()
        self.assertEqual(table.encode_data("x", None, "v").value, wit.DataValue_String("x"))
        self.assertEqual(table.encode_data(b"x", wc.BYTES_SCHEMA, "v").value, wit.DataValue_Bytes(b"x"))
        self.assertEqual(table.encode_data(7, wc.INT8_SCHEMA, "v").value, wit.DataValue_Int8(7))
        self.assertEqual(table.encode_data(None, wc.OPTIONAL_STRING_SCHEMA, "v").value, wit.DataValue_Null())
        self.assertIsInstance(table.encode_data([1], None, "v").value, wit.DataValue_Tree)
        self.assertIsInstance(table.encode_data(row(), ROW, "v").value, wit.DataValue_Tree)

    def test_a_primitive_decodes_alike_directly_and_as_a_one_node_tree(self):
        date = wc.SchemaBuilder.date().build()
        for value, schema in [("x", None), (b"y", wc.BYTES_SCHEMA), (None, wc.OPTIONAL_INT64_SCHEMA),
                              (datetime.date(2026, 12, 7), date), (-3, wc.INT16_SCHEMA)]:
            table = _codec.SchemaTable()
            data = table.encode_data(value, schema, "v")
            self.assertNotIsInstance(data.value, wit.DataValue_Tree)
            schemas = _codec.decode_schemas(table.schemas)
            as_tree = wit.Data(data.schema, wit.DataValue_Tree(_codec.encode_value(value, schema)))
            self.assertEqual(_codec.decode_data(data, schemas), (value, schema))
            self.assertEqual(_codec.decode_data(as_tree, schemas), (value, schema))


class ConfigTest(unittest.TestCase):
    DEF = (
        wc.ConfigDef()
        .define("dir", wc.ConfigType.STRING, validator=wc.NonEmptyString())
        .define("n", wc.ConfigType.INT, default=5, validator=wc.Range.between(1, 10))
        .define("mode", wc.ConfigType.STRING, default="a", validator=wc.ValidString("a", "b"))
        .define("list", wc.ConfigType.LIST, default="x, y")
        .define("on", wc.ConfigType.BOOLEAN, default=False)
    )

    def test_parse_applies_defaults_and_types(self):
        values = self.DEF.parse({"dir": "/d", "on": "TRUE"})
        self.assertEqual(values, {"dir": "/d", "n": 5, "mode": "a", "list": ["x", "y"], "on": True})

    def test_parse_names_every_problem(self):
        with self.assertRaises(wc.InvalidConfigError) as caught:
            self.DEF.parse({"n": "11", "mode": "c"})
        message = str(caught.exception)
        self.assertIn('Missing required configuration "dir"', message)
        self.assertIn("Invalid value 11 for configuration n: Value must be no more than 10", message)
        self.assertIn("String must be one of: a, b", message)

    def test_validate_reports_per_setting(self):
        values = {v.name: v for v in self.DEF.validate({"dir": "", "n": "x"})}
        self.assertEqual(values["dir"].errors, ["Invalid value '' for configuration dir: String must be non-empty"])
        self.assertEqual(values["n"].errors, ["Invalid value x for configuration n: Not a number of type INT"])
        self.assertEqual(values["mode"].errors, [])

    def test_a_default_that_fails_its_validator_is_refused(self):
        with self.assertRaisesRegex(ValueError, "default of 'n' is invalid"):
            wc.ConfigDef().define("n", wc.ConfigType.INT, default=0, validator=wc.Range.at_least(1))

    def test_typed_getters(self):
        config = wc.Config([("a", "3"), ("b", "x")])
        self.assertEqual(config.get_int("a"), 3)
        self.assertEqual(config.get_int("missing", 4), 4)
        with self.assertRaisesRegex(wc.InvalidConfigError, "configuration b"):
            config.get_long("b")


class Sink(wc.SinkConnector):
    aliases = ["S"]
    CONFIG_DEF = wc.ConfigDef().define("fail", wc.ConfigType.STRING, default="")

    def start(self, config):
        self.config = dict(config)

    def task_configs(self, max_tasks):
        return [self.config] * max_tasks


class Task(wc.SinkTask):
    def start(self, config):
        self.fail = config.get("fail")
        self.seen = []

    def put(self, records):
        if self.fail == "put":
            raise ZeroDivisionError("division by zero on purpose")
        if self.fail == "retry":
            raise wc.RetriableError("later")
        self.seen.extend(records)

    def pre_commit(self, offsets):
        return {tp: o - 1 for tp, o in offsets.items()}


def sink_batch():
    table = _codec.SchemaTable()
    record = wit_sink.SinkRecord(
        topic=1,
        partition=0,
        offset=4,
        key=table.encode_data("k", None, "key"),
        value=table.encode_data(row(), ROW, "value"),
        timestamp=1,
        timestamp_type=wit_sink.TimestampType.CREATE_TIME,
        header_count=1,
        original_topic=0,
        original_partition=0,
        original_offset=4,
    )
    headers = table.encode_headers([wc.Header("h", 1, wc.INT32_SCHEMA)])
    return wit_sink.SinkBatch(table.schemas, ["t", "renamed"], headers, [record])


class GlueTest(unittest.TestCase):
    def setUp(self):
        self.host = fakehost.install()
        self.connector_glue, self.task_glue = wc.export_sink_connector(Sink, Task)

    def test_connector_describe_and_task_configs(self):
        c = self.connector_glue()
        info = c.describe()
        self.assertEqual((info.class_name, info.aliases), ("Sink", ["S"]))
        self.assertEqual([k.name for k in c.config_def()], ["fail"])
        c.start([("a", "1")])
        # A new export object per call still reaches the started connector.
        self.assertEqual(self.connector_glue().task_configs(2), [[("a", "1")], [("a", "1")]])

    def test_put_delivers_decoded_records(self):
        task = self.task_glue()
        task.start([])
        task.put(sink_batch())
        task_obj = _glue_holder(task)
        [record] = task_obj.seen
        self.assertEqual((record.key, record.key_schema), ("k", None))
        self.assertEqual((record.topic, record.original_topic), ("renamed", "t"))
        self.assertEqual(record.value, row())
        self.assertEqual(record.timestamp_type, "CreateTime")
        self.assertEqual(record.headers, [wc.Header("h", 1, wc.INT32_SCHEMA)])
        offsets = task.pre_commit([wit.TopicPartitionOffset("t", 0, 5)])
        self.assertEqual(offsets, [wit.TopicPartitionOffset("t", 0, 4)])

    def test_a_sink_record_naming_a_missing_topic_fails_the_put(self):
        task = self.task_glue()
        task.start([])
        batch = sink_batch()
        batch.records[0].original_topic = 2
        with self.assertRaises(Err) as raised:
            task.put(batch)
        self.assertIn(
            "malformed sink batch: record 0: topic 2 does not exist (the batch has 2 topics)",
            raised.exception.value.value,
        )

    def test_each_record_takes_its_headers_in_turn_and_a_miscount_fails_the_put(self):
        import copy

        task = self.task_glue()
        task.start([])
        batch = sink_batch()
        second = copy.copy(batch.records[0])
        second.header_count = 2
        none = copy.copy(batch.records[0])
        none.header_count = 0
        batch.records += [none, second]
        batch.headers = batch.headers + _codec.SchemaTable().encode_headers([wc.Header("a", "x"), wc.Header("b", "y")])
        task.put(batch)
        seen = _glue_holder(task).seen
        self.assertEqual([[h.key for h in r.headers] for r in seen], [["h"], [], ["a", "b"]])
        batch.headers.pop()
        with self.assertRaises(Err) as raised:
            task.put(batch)
        self.assertEqual(
            raised.exception.value.value,
            "malformed sink batch: record 2 has 2 headers, past the end of the batch's 2 headers",
        )
        batch = sink_batch()
        batch.records[0].header_count = 0
        with self.assertRaises(Err) as raised:
            task.put(batch)
        self.assertIn("its records have 0 headers, but its `headers` list has 1", raised.exception.value.value)

    def test_python_exceptions_become_connector_errors_with_the_traceback(self):
        task = self.task_glue()
        task.start([("fail", "put")])
        with self.assertRaises(Err) as caught:
            task.put(sink_batch())
        error = caught.exception.value
        self.assertIsInstance(error, wit.ConnectorError_Fatal)
        self.assertIn("Task.put raised ZeroDivisionError: division by zero on purpose", error.value)
        self.assertIn("Traceback (most recent call last)", error.value)

    def test_sdk_errors_keep_their_kind(self):
        task = self.task_glue()
        task.start([("fail", "retry")])
        with self.assertRaises(Err) as caught:
            task.put(sink_batch())
        self.assertEqual(caught.exception.value, wit.ConnectorError_Retriable("later"))

    def test_calls_before_start_fail_clearly(self):
        _, fresh = wc.export_sink_connector(Sink, Task)
        with self.assertRaises(Err) as caught:
            fresh().put(sink_batch())
        self.assertIn("called before start", caught.exception.value.value)

    def test_logging_and_context_reach_the_host(self):
        import logging

        logging.getLogger("x").warning("careful")
        wc.log("debug", "direct")
        self.assertIn(("warn", "x: careful"), self.host.logs)
        self.assertIn(("debug", "direct"), self.host.logs)
        ctx = wc.SinkTaskContext()
        ctx.offset({wc.TopicPartition("t", 1): 9})
        ctx.request_commit()
        ctx.raise_error(ValueError("bad"))
        self.assertEqual(self.host.resets, [("t", 1, 9)])
        self.assertEqual(self.host.commit_requests, 1)
        self.assertTrue(self.host.raised[0].startswith("ValueError: bad"))
        with self.assertRaisesRegex(wc.ConnectError, "only available to source connectors"):
            wc.SourceTaskContext().offset_storage_reader().offset({"f": "a"})
        with self.assertRaisesRegex(wc.ConnectError, "only available to source connectors"):
            wc.SourceTaskContext().poll_again_after(1.5)
        with self.assertRaisesRegex(ValueError, "seconds >= 0 or None"):
            wc.SourceTaskContext().poll_again_after(-1)


class CompiledEncoderTest(unittest.TestCase):
    """Values go through an encoder compiled per schema; it must give exactly the nodes of the
    checked path, and leave everything else to it."""

    PLAIN = (
        wc.SchemaBuilder.struct()
        .name("Plain")
        .field("id", wc.INT64_SCHEMA)
        .field("name", wc.OPTIONAL_STRING_SCHEMA)
        .field("ok", wc.BOOLEAN_SCHEMA)
        .field("ratio", wc.FLOAT32_SCHEMA)
        .field("raw", wc.BYTES_SCHEMA)
        .field("tags", wc.SchemaBuilder.array(wc.INT32_SCHEMA).build())
        .field("scores", wc.SchemaBuilder.map(wc.STRING_SCHEMA, wc.FLOAT64_SCHEMA).build())
        .field("day", wc.SchemaBuilder.date().build())
        .field("at", wc.SchemaBuilder.timestamp().build())
        .field("small", wc.SchemaBuilder.int8().default_value(7).build())
        .field("inner", wc.SchemaBuilder.struct().name("Inner").field("n", wc.INT16_SCHEMA).build())
        .build()
    )

    def plain(self):
        inner = wc.Struct(self.PLAIN.field("inner").schema, n=-3)
        return wc.Struct(
            self.PLAIN,
            id=2**40,
            ok=True,
            ratio=2,
            raw=b"\x00\x01",
            tags=[1, -2, 3],
            scores={"a": 0.5, "b": 2},
            day=datetime.date(2024, 2, 29),
            at=datetime.datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=datetime.timezone.utc),
            inner=inner,
        )

    def test_a_plain_struct_is_encoded_by_the_compiled_encoder_as_by_the_checked_path(self):
        value = self.plain()
        nodes = []
        _codec._encoder(self.PLAIN)(value, nodes)  # raises _Slow if it gave up
        self.assertEqual(nodes, _codec._encode_value_checked(value, self.PLAIN, "value"))
        self.assertEqual(_codec.encode_value(value, self.PLAIN), nodes)

    def test_values_the_compiled_encoder_leaves_alone_come_out_the_same(self):
        class Flag(int):
            pass

        cases = [
            (row(), ROW),  # a Decimal field
            (Flag(5), wc.INT32_SCHEMA),  # an int subclass
            (bytearray(b"ab"), wc.BYTES_SCHEMA),
            (1_704_067_200_000, wc.SchemaBuilder.timestamp().build()),  # a timestamp as millis
            (None, wc.OPTIONAL_INT64_SCHEMA),
            ((1, 2), wc.SchemaBuilder.array(wc.INT64_SCHEMA).build()),
            ([("k", 1.0)], wc.SchemaBuilder.map(wc.STRING_SCHEMA, wc.FLOAT64_SCHEMA).build()),
            ({"a": [1, None]}, None),
            ("text", None),
            (-5, None),
        ]
        for value, schema in cases:
            with self.subTest(value=value, schema=schema):
                self.assertEqual(
                    _codec.encode_value(value, schema),
                    _codec._encode_value_checked(value, schema, "value"),
                )

    def test_a_bad_value_is_still_named(self):
        with self.assertRaisesRegex(wc.DataError, "invalid record 3 value of Python type str"):
            _codec.encode_value("x", wc.INT32_SCHEMA, "record 3 value")
        with self.assertRaisesRegex(wc.DataError, "out of range for INT8"):
            _codec.encode_value(300, wc.INT8_SCHEMA, "record 3 value")
        with self.assertRaisesRegex(wc.DataError, "is None but its INT64 schema is required"):
            _codec.encode_value(None, wc.INT64_SCHEMA, "record 3 value")

    def test_a_source_record_that_fails_is_named_by_its_position(self):
        import types as pytypes

        fake_wit = pytypes.SimpleNamespace(SourceRecord=lambda **fields: fields)
        record = wc.SourceRecord({"p": 1}, {"o": 1}, "t", value="x", value_schema=wc.INT32_SCHEMA)
        with self.assertRaisesRegex(wc.DataError, "invalid record 3 value of Python type str"):
            _glue._encode_source_record(fake_wit, _codec.SchemaTable(), _glue._RecordTables(), record, 3)
        good = wc.SourceRecord({"p": 1}, {"o": 1}, "t", value=5, value_schema=wc.INT32_SCHEMA)
        encoded = _glue._encode_source_record(fake_wit, _codec.SchemaTable(), _glue._RecordTables(), good, 3)
        self.assertEqual(encoded["value"].value, wit.DataValue_Int32(5))


class JsonRecordsTest(unittest.TestCase):
    """A poll's plain records cross as one JSON text (``source-batch.records-json``); anything
    else makes the batch go as WIT records, which name what is wrong."""

    def encode(self, records):
        table, tables = _codec.SchemaTable(), _glue._RecordTables()
        text = _codec.json_records(records, table, tables)
        return text, table, tables

    def test_plain_records_are_one_json_text_in_the_documented_form(self):
        import json

        plain = CompiledEncoderTest.PLAIN
        records = [
            wc.SourceRecord({"file": "a"}, {"line": 1}, "t", key="k1", value=CompiledEncoderTest().plain(),
                            value_schema=plain, timestamp=5, partition=2,
                            headers=[wc.Header("h", b"\x01"), wc.Header("n", 3, wc.INT16_SCHEMA)]),
            wc.SourceRecord({"file": "a"}, {"line": 2, "f": 0.5, "ok": True, "x": None}, "u",
                            value={"m": [1, "two", 3.5, None]}),
            wc.SourceRecord({"file": "b"}, None, "t", key=row(), value=None),
        ]
        text, table, tables = self.encode(records)
        self.assertIsNotNone(text)
        self.assertEqual(tables.topics, ["t", "u"])
        self.assertEqual(len(tables.source_partitions), 2)
        rows = json.loads(text)
        plain_index = rows[0][5][0]
        self.assertEqual(table.schemas[plain_index].name, "Plain")
        self.assertEqual(
            rows[0],
            [0, {"line": 1}, 0, 2, [None, "k1"],
             [plain_index, [2**40, None, True, 2.0, "AAE=", [1, -2, 3], [["a", 0.5], ["b", 2.0]],
                            19782, 1704110400123, 7, [-3]]],
             5, [["h", None, {"bytes": "AQ=="}], ["n", rows[0][7][1][1], 3]]],
        )
        self.assertEqual(table.schemas[rows[0][7][1][1]].type, wit.SchemaType.INT16)
        self.assertEqual(
            rows[1], [0, {"line": 2, "f": 0.5, "ok": True, "x": None}, 1, None, None,
                      [None, {"map": [["m", [1, "two", 3.5, None]]]}], None, []])
        # A schemaless Struct key takes its own schema; the Decimal is its bytes in base64.
        key_index, key = rows[2][4]
        self.assertEqual(table.schemas[key_index].name, "com.example.Row")
        self.assertEqual(key[4], "+y4=")  # -1234 unscaled, as two's complement bytes
        self.assertEqual(rows[2][1], {})

    def test_anything_else_leaves_the_batch_to_the_wit_records(self):
        class Flag(int):
            pass

        good = wc.SourceRecord({"p": 1}, {"o": 1}, "t", value="x")
        cases = {
            "a bytearray": wc.SourceRecord({"p": 1}, {"o": 1}, "t", value=bytearray(b"a")),
            "NaN": wc.SourceRecord({"p": 1}, {"o": 1}, "t", value=float("nan")),
            "an int subclass": wc.SourceRecord({"p": 1}, {"o": 1}, "t", value=Flag(1), value_schema=wc.INT32_SCHEMA),
            "an int out of range": wc.SourceRecord({"p": 1}, {"o": 1}, "t", value=300, value_schema=wc.INT8_SCHEMA),
            "a non-string offset key": wc.SourceRecord({"p": 1}, {1: 1}, "t", value="x"),
            "a bad partition": wc.SourceRecord({"p": [1]}, {"o": 1}, "t", value="x"),
            "too many decimals": wc.SourceRecord({"p": 1}, {"o": 1}, "t", value=decimal.Decimal("1.234"),
                                                 value_schema=wc.SchemaBuilder.decimal(2).build()),
            "an object": wc.SourceRecord({"p": 1}, {"o": object()}, "t", value="x"),
            "a huge int for a float": wc.SourceRecord({"p": 1}, {"o": 1}, "t", value=10**400,
                                                      value_schema=wc.FLOAT64_SCHEMA),
            "a string timestamp": wc.SourceRecord({"p": 1}, {"o": 1}, "t", value="x", timestamp="now"),
        }
        self.assertIsNotNone(self.encode([good])[0])
        for what, bad in cases.items():
            with self.subTest(what):
                self.assertIsNone(self.encode([good, bad])[0])
        self.assertIsNone(self.encode([good, "not a record"])[0])


class RecordTablesTest(unittest.TestCase):
    """What a source batch lists in its topic and source partition tables."""

    def test_each_topic_and_partition_once_however_records_interleave(self):
        tables = _glue._RecordTables()
        shared = {"file": "a"}
        refs = [
            (tables.topic(t), tables.partition(p, f"record {i}"))
            for i, (t, p) in enumerate(
                [("x", shared), ("y", {"file": "b"}), ("x", {"file": "a"}), ("y", shared), ("x", None)]
            )
        ]
        self.assertEqual(refs, [(0, 0), (1, 1), (0, 0), (1, 0), (0, 2)])
        self.assertEqual(tables.topics, ["x", "y"])
        self.assertEqual(
            tables.source_partitions,
            [[("file", wit.Scalar_String("a"))], [("file", wit.Scalar_String("b"))], []],
        )

    def test_a_boolean_and_an_int_are_different_partitions(self):
        tables = _glue._RecordTables()
        self.assertEqual(tables.partition({"p": True}, "record 0"), 0)
        self.assertEqual(tables.partition({"p": 1}, "record 1"), 1)

    def test_a_bad_partition_is_rejected_naming_the_record(self):
        with self.assertRaisesRegex(wc.DataError, r"record 4 source_partition\['p'\] is a list"):
            _glue._RecordTables().partition({"p": [1]}, "record 4 source_partition")

    def test_a_missing_entry_names_the_table(self):
        with self.assertRaisesRegex(wc.ConnectError, r"topic 3 does not exist \(the batch has 1 topics\)"):
            _glue._entry(["t"], 3, "topic")


def _glue_holder(task_glue):
    # The user's task object, as the glue keeps it.
    return task_glue._started()


if __name__ == "__main__":
    unittest.main()


class ReplaceFileTest(unittest.TestCase):
    def setUp(self):
        import tempfile

        self.dir = tempfile.mkdtemp()
        self.path = f"{self.dir}/state.json"

    def read(self):
        with open(self.path, encoding="utf-8") as f:
            return f.read()

    def test_text_and_bytes_replace_the_whole_file(self):
        wc.replace_file(self.path, "a longer first content")
        wc.replace_file(self.path, "short")
        self.assertEqual(self.read(), "short")
        wc.replace_file(self.path, b"\xff\x00", fsync=False)
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), b"\xff\x00")

    def test_a_crash_before_the_rename_leaves_the_old_content(self):
        import os
        from unittest import mock

        wc.replace_file(self.path, "committed")
        # The process dies while the new content is synced: the rename never happens.
        with mock.patch("os.fsync", side_effect=OSError("crash")):
            with self.assertRaises(OSError):
                wc.replace_file(self.path, "half-written")
        self.assertEqual(self.read(), "committed")
        # A leftover temporary file does not stop the next replace.
        self.assertTrue(os.path.exists(self.path + ".tmp"))
        wc.replace_file(self.path, "next")
        self.assertEqual(self.read(), "next")
        self.assertFalse(os.path.exists(self.path + ".tmp"))
