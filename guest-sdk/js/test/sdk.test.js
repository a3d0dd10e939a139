// Unit tests of the SDK under Node, against the host double (`src/testing.js`):
// `node --test guest-sdk/js/test/` (build-examples.sh runs them before building).
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  Config,
  ConfigDef,
  ConfigType,
  DataError,
  Logical,
  RetriableError,
  Schema,
  SchemaBuilder,
  SinkConnector,
  SinkTask,
  SourceConnector,
  SourceTask,
  Struct,
  Validator,
  defineSink,
  defineSource,
  log,
  offsetStorageReader,
  sourceContext,
  errantRecordReporter,
} from "../src/index.js";
import { exportsFor, decodeSinkBatch } from "../src/connector.js";
import { SchemaReader, SchemaTable, decodeData, encodeData } from "../src/data.js";
import * as testing from "../src/testing.js";

const order = SchemaBuilder.struct()
  .name("shop.Order")
  .field("id", Schema.INT64)
  .field("tags", SchemaBuilder.array(Schema.STRING).build())
  .field("prices", SchemaBuilder.map(Schema.STRING, Schema.FLOAT64).build())
  .field("at", Logical.timestamp().build())
  .field("note", SchemaBuilder.string().optional().defaultValue("none").build())
  .build();

test("a struct round-trips through the WIT node tables", () => {
  const table = new SchemaTable();
  const value = new Struct(order, { id: 7, tags: ["a", "b"], prices: { x: 1.5 }, at: new Date(1000) });
  const data = encodeData(order, value, table, "value");
  // Parents come before their children in both tables.
  assert.equal(data.value.tag, "tree");
  assert.equal(data.value.val[0].tag, "struct");
  for (const [i, node] of data.value.val.entries()) {
    for (const child of [node.val].flat(2).filter((c) => typeof c === "number" && node.tag !== "int64" && node.tag !== "float64")) {
      assert.ok(child > i, `node ${i} refers to ${child}`);
    }
  }
  const decoded = decodeData(data, new SchemaReader(table.nodes));
  assert.equal(decoded.schema.name, "shop.Order");
  assert.deepEqual(decoded.value.toJSON(), {
    id: 7,
    tags: ["a", "b"],
    prices: new Map([["x", 1.5]]),
    at: new Date(1000),
    note: "none",
  });
});

test("a batch writes each schema once", () => {
  const table = new SchemaTable();
  for (let i = 0; i < 100; i++) encodeData(order, { id: i, tags: [], prices: {}, at: i }, table, "value");
  const roots = table.nodes.filter((n) => n.name === "shop.Order");
  assert.equal(roots.length, 1);
});

test("values that do not fit their schema are rejected with the path", () => {
  const table = new SchemaTable();
  assert.throws(() => encodeData(order, { id: "x", tags: [], prices: {}, at: 0 }, table, "value"), {
    name: "DataError",
    message: /value\.id: expected an integer, got a string/,
  });
  assert.throws(() => encodeData(order, { id: 1, tags: [3], prices: {}, at: 0 }, table, "value"), /value\.tags\[0\]: expected a string/);
  assert.throws(() => encodeData(order, { id: 1, tags: [], prices: {}, at: 0, extra: 1 }, table, "value"), /has no field `extra`/);
  assert.throws(() => encodeData(order, { tags: [], prices: {}, at: 0 }, table, "value"), /value\.id: null for a required int64/);
  assert.throws(() => encodeData(Schema.INT8, 300, table, "key"), /300 does not fit int8/);
  assert.throws(() => encodeData(Schema.INT64, 2n ** 60n, table, "key"), /outside the safe integer range/);
  assert.throws(() => new Struct(order).put("nope", 1), DataError);
});

test("schemaless values follow their JavaScript types", () => {
  const data = encodeData(null, { n: 1, f: 1.5, s: "x", b: true, l: [null] }, new SchemaTable(), "value");
  assert.equal(data.schema, null);
  assert.deepEqual(
    data.value.val.map((n) => n.tag),
    ["map", "string", "int64", "string", "float64", "string", "string", "string", "boolean", "string", "array", "null"],
  );
});

test("decimals keep their unscaled value and scale", () => {
  const schema = Logical.decimal(2).build();
  for (const unscaled of [0n, 1n, -1n, 127n, 128n, -129n, 123456789012345678901234567890n]) {
    const table = new SchemaTable();
    const data = encodeData(schema, { unscaled, scale: 2 }, table, "v");
    assert.deepEqual(decodeData(data, new SchemaReader(table.nodes)).value, { unscaled, scale: 2 });
  }
});

test("decoding rejects indices that point backwards", () => {
  const nodes = [{ tag: "array", val: [0] }];
  assert.throws(() => decodeData({ schema: null, value: { tag: "tree", val: nodes } }, new SchemaReader([])), /refers to 0, which is not after it/);
});

test("primitives cross as themselves, containers as trees, and both decode alike", () => {
  const table = new SchemaTable();
  assert.deepEqual(encodeData(null, "x", table, "v").value, { tag: "string", val: "x" });
  assert.deepEqual(encodeData(Schema.INT32, 7, table, "v").value, { tag: "int32", val: 7 });
  assert.deepEqual(encodeData(Schema.OPTIONAL_STRING, null, table, "v").value, { tag: "null" });
  assert.equal(encodeData(null, [1], table, "v").value.tag, "tree");
  const date = Logical.date().build();
  const day = new Date(Date.UTC(2026, 11, 7));
  const data = encodeData(date, day, table, "v");
  assert.equal(data.value.tag, "int32");
  const reader = new SchemaReader(table.nodes);
  assert.deepEqual(decodeData(data, reader), { schema: reader.get(data.schema), value: day });
  const asTree = { schema: data.schema, value: { tag: "tree", val: [data.value] } };
  assert.deepEqual(decodeData(asTree, reader), decodeData(data, reader));
});

test("ConfigDef validates like Kafka Connect and Config falls back to defaults", () => {
  const def = new ConfigDef()
    .define("file", ConfigType.STRING, { doc: "the file" })
    .define("batch.size", ConfigType.INT, { default: 10, validator: Validator.atLeast(1) })
    .define("mode", ConfigType.STRING, { default: "a", validator: Validator.oneOf("a", "b") });
  const errors = def.validate({ "batch.size": "0", mode: "c" }).flatMap((v) => v.errors);
  assert.deepEqual(errors, [
    'Missing required configuration "file" which has no default value.',
    "Invalid value 0 for configuration batch.size: Value must be at least 1",
    "Invalid value c for configuration mode: String must be one of: a, b",
  ]);
  assert.deepEqual(def.key("mode").recommendedValues, ["a", "b"]);
  assert.throws(() => def.parse({}), { name: "InvalidConfigError", message: /Missing required configuration "file"/ });
  const config = def.parse({ file: "x" });
  assert.equal(config.getInt("batch.size"), 10);
  assert.throws(() => new Config({ n: "1.5" }).getInt("n"), /setting `n` must be an integer, got `1.5`/);
  assert.throws(() => new Config({}).getString("missing"), /missing required setting `missing`/);
});

class Src extends SourceConnector {
  static className = "Src";
  static configDef = new ConfigDef().define("topic", ConfigType.STRING, {});
}
class SrcTask extends SourceTask {
  start(config) {
    this.topic = config.getString("topic");
    const committed = offsetStorageReader.offset({ file: "f" });
    this.next = committed ? committed.line + 1 : 0;
  }
  poll() {
    if (this.topic === "boom") throw new TypeError("cannot read the thing");
    if (this.topic === "retry") throw new RetriableError("later");
    log.info("polled", { next: this.next });
    return [{ sourcePartition: { file: "f" }, sourceOffset: { line: this.next }, topic: this.topic, value: `line ${this.next}` }];
  }
}

test("source tasks resume from the offset reader and produce WIT batches", () => {
  testing.reset();
  testing.setOffset({ file: "f" }, { line: 41 });
  const { connector, sourceTask } = exportsFor(defineSource(Src, SrcTask), "source");
  assert.deepEqual(connector.describe(), { className: "Src", aliases: [], description: "" });
  assert.deepEqual(sourceTask.start([["topic", "t"]]), { wantsCommitRecords: false });
  const batch = sourceTask.poll();
  // Plain records cross as one JSON text: [source-partition, source-offset, topic, partition,
  // key, value, timestamp, headers], the tables as WIT.
  assert.deepEqual(batch.records, []);
  assert.deepEqual(JSON.parse(batch.recordsJson), [[0, { line: 42 }, 0, null, null, [null, "line 42"], null, []]]);
  assert.deepEqual(batch.topics, ["t"]);
  assert.deepEqual(batch.sourcePartitions, [[["file", { tag: "string", val: "f" }]]]);
  assert.deepEqual(testing.logs(), [{ level: "info", message: 'polled {"next":42}' }]);
});

test("plain records cross as one JSON text in the documented form", async () => {
  const { jsonRecords, RecordTables } = await import("../src/connector.js");
  const inner = SchemaBuilder.struct().name("Inner").field("n", Schema.INT16).build();
  const row = SchemaBuilder.struct()
    .name("Row")
    .field("id", Schema.INT64)
    .field("name", Schema.OPTIONAL_STRING)
    .field("ok", Schema.BOOLEAN)
    .field("ratio", Schema.FLOAT32)
    .field("raw", Schema.BYTES)
    .field("tags", SchemaBuilder.array(Schema.INT32).build())
    .field("scores", SchemaBuilder.map(Schema.STRING, Schema.FLOAT64).build())
    .field("day", Logical.date().build())
    .field("at", Logical.timestamp().build())
    .field("price", Logical.decimal(2).build())
    .field("small", SchemaBuilder.int8().defaultValue(7).build())
    .field("inner", inner)
    .build();
  const value = new Struct(row, {
    id: 2n ** 40n,
    ok: true,
    ratio: NaN,
    raw: new Uint8Array([0, 1]),
    tags: [1, -2, 3],
    scores: new Map([["a", 0.5], ["b", 2]]),
    day: new Date(Date.UTC(2024, 1, 29)),
    at: new Date(Date.UTC(2024, 0, 1, 12, 0, 0, 123)),
    price: { unscaled: -1234n, scale: 2 },
    inner: { n: -3 },
  });
  const records = [
    {
      sourcePartition: { file: "a" }, sourceOffset: { line: 1, f: 0.5, ok: true, x: null }, topic: "t", partition: 2,
      key: "k1", value, valueSchema: row, timestamp: new Date(5),
      headers: [{ key: "h", value: new Uint8Array([1]) }, { key: "n", value: 3, schema: Schema.INT16 }],
    },
    { sourcePartition: { file: "b" }, topic: "u", value: { m: [1, "two", 3.5, null] } },
  ];
  const table = new SchemaTable();
  const tables = new RecordTables();
  const rows = JSON.parse(jsonRecords(records, table, tables));
  const rowIndex = rows[0][5][0];
  assert.equal(table.nodes[rowIndex].name, "Row");
  const int16 = rows[0][7][1][1];
  assert.equal(table.nodes[int16].type, "int16");
  assert.deepEqual(rows, [
    [0, { line: 1, f: 0.5, ok: true, x: null }, 0, 2, [null, "k1"],
      [rowIndex, [2 ** 40, null, true, "NaN", "AAE=", [1, -2, 3], [["a", 0.5], ["b", 2]], 19782, 1704110400123, "+y4=", 7, [-3]]],
      5, [["h", null, { bytes: "AQ==" }], ["n", int16, 3]]],
    [1, {}, 1, null, null, [null, { map: [["m", [1, "two", 3.5, null]]] }], null, []],
  ]);
  assert.deepEqual(tables.topics, ["t", "u"]);
});

test("anything JSON cannot carry exactly leaves the batch to the WIT records", async () => {
  const { jsonRecords, RecordTables } = await import("../src/connector.js");
  const good = { sourcePartition: { p: 1 }, sourceOffset: { o: 1 }, topic: "t", value: "x" };
  assert.notEqual(jsonRecords([good], new SchemaTable(), new RecordTables()), null);
  const bad = {
    "an unsafe integer offset": { ...good, sourceOffset: { o: 2 ** 60 } },
    "a NaN offset": { ...good, sourceOffset: { o: NaN } },
    "an undefined offset value": { ...good, sourceOffset: { o: undefined } },
    "a schemaless NaN": { ...good, value: NaN },
    "a schemaless unsafe integer": { ...good, value: 2 ** 60 },
    "a bigint beyond 2^53": { ...good, value: 2n ** 60n, valueSchema: Schema.INT64 },
    "an int8 out of range": { ...good, value: 300, valueSchema: Schema.INT8 },
    "a string for an int": { ...good, value: "1", valueSchema: Schema.INT32 },
    "an unknown struct field": { ...good, value: { nope: 1 }, valueSchema: SchemaBuilder.struct().field("a", Schema.INT32).build() },
    "a Struct without schema": { ...good, value: new Struct(SchemaBuilder.struct().field("a", Schema.INT32).build(), { a: 1 }) },
    "a bad partition": { ...good, sourcePartition: { p: [1] } },
    "a fractional partition": { ...good, partition: 1.5 },
    "an invalid Date": { ...good, value: { at: new Date(NaN) }, valueSchema: SchemaBuilder.struct().field("at", Logical.timestamp().build()).build() },
    "a fractional int field": { ...good, value: { n: 1.5 }, valueSchema: SchemaBuilder.struct().field("n", Schema.INT32).build() },
    "a missing topic": { ...good, topic: "" },
    "not a record": 5,
  };
  for (const [what, record] of Object.entries(bad)) {
    assert.equal(jsonRecords([good, record], new SchemaTable(), new RecordTables()), null, what);
  }
});

test("a batch lists each topic and source partition once, however the records interleave", async () => {
  const { encodeSourceRecord, RecordTables } = await import("../src/connector.js");
  const tables = new RecordTables();
  const shared = { file: "a" };
  const records = [
    { topic: "x", sourcePartition: shared },
    { topic: "y", sourcePartition: { file: "b" } },
    { topic: "x", sourcePartition: { file: "a" } }, // equal to `shared`, another object
    { topic: "y", sourcePartition: shared },
    { topic: "x", sourcePartition: null },
  ];
  const refs = records.map((r, i) => {
    const wit = encodeSourceRecord(r, new SchemaTable(), i, tables);
    return [wit.topic, wit.sourcePartition];
  });
  assert.deepEqual(tables.topics, ["x", "y"]);
  assert.deepEqual(tables.sourcePartitions, [[["file", { tag: "string", val: "a" }]], [["file", { tag: "string", val: "b" }]], []]);
  assert.deepEqual(refs, [[0, 0], [1, 1], [0, 0], [1, 0], [0, 2]]);
  // Same text, different scalar types: different partitions.
  const typed = new RecordTables();
  const kinds = [{ p: 1 }, { p: "1" }, { p: 1.5 }, { p: true }, { p: 1 }].map((p) => typed.partition(p, 0));
  assert.deepEqual(kinds, [0, 1, 2, 3, 0]);
});

const acked = [];
class Acker extends SourceTask {
  start() {
    return { wantsCommitRecords: true };
  }
  poll() {
    return [];
  }
  commitRecord(record, metadata) {
    acked.push([record.topic, record.sourcePartition, metadata?.offset ?? null]);
  }
}

test("committed records are decoded from the batch's tables; a missing entry is an error", () => {
  testing.reset();
  const definition = defineSource(Src, Acker);
  const { sourceTask } = exportsFor(definition, "source");
  sourceTask.start([]);
  const record = (topic, sourcePartition) => ({
    sourcePartition, sourceOffset: [], topic, partition: null, key: null, value: null, timestamp: null, headers: [],
  });
  const meta = { topic: "y", partition: 0, offset: 7n, timestamp: null };
  sourceTask.commitRecords({
    schemas: [],
    topics: ["x", "y"],
    sourcePartitions: [[["file", { tag: "string", val: "a" }]]],
    records: [{ record: record(1, 0), metadata: meta }, { record: record(0, 0), metadata: null }],
  });
  assert.deepEqual(acked, [["y", { file: "a" }, 7n], ["x", { file: "a" }, null]]);
  acked[0][1].file = "changed"; // each record gets its own copy of the partition
  assert.equal(acked[1][1].file, "a");
  assert.throws(
    () => sourceTask.commitRecords({ schemas: [], topics: [], sourcePartitions: [[]], records: [{ record: record(0, 0), metadata: null }] }),
    (e) => e.tag === "fatal" && /topic 0 does not exist \(the batch has 0 topics\)/.test(e.val),
  );
});

test("pollAgainAfter reaches the host in whole milliseconds as numbers, null as never, and rejects nonsense", () => {
  testing.reset();
  sourceContext.pollAgainAfter(2.7);
  sourceContext.pollAgainAfter(null);
  sourceContext.pollAgainAfter(1e300);
  // The bindings take a u64 as a number (a BigInt fails the call).
  const never = Number.MAX_SAFE_INTEGER;
  assert.deepEqual(testing.pollAgainAfter(), [2, never, never]);
  assert.throws(() => sourceContext.pollAgainAfter(-1), /milliseconds >= 0 or null/);
  assert.throws(() => sourceContext.pollAgainAfter("5"), /milliseconds >= 0 or null/);
  assert.equal(testing.pollAgainAfter().length, 3);
});

test("anything thrown becomes a connector-error with the message and stack", () => {
  testing.reset();
  const { sourceTask } = exportsFor(defineSource(Src, SrcTask), "source");
  sourceTask.start([["topic", "boom"]]);
  let thrown;
  try {
    sourceTask.poll();
  } catch (error) {
    thrown = error;
  }
  assert.equal(thrown.tag, "fatal");
  assert.match(thrown.val, /^TypeError: cannot read the thing\n/);
  assert.match(thrown.val, /at .*sdk\.test\.js/);
  sourceTask.start([["topic", "retry"]]);
  assert.throws(() => sourceTask.poll(), (e) => e.tag === "retriable" && e.val.startsWith("RetriableError: later"));
  // A missing required setting at connector start is invalid-config.
  const { connector } = exportsFor(defineSource(Src, SrcTask), "source");
  assert.throws(() => connector.start([]), (e) => e.tag === "invalid-config" && /"topic"/.test(e.val));
});

test("the definition must match the world it is built for", () => {
  assert.throws(() => exportsFor(defineSource(Src, SrcTask), "sink"), /defines a source connector, but package.json says/);
  assert.throws(() => defineSource(Src, class {}), /expected a class extending SourceTask/);
  assert.throws(() => exportsFor({}, "source"), /default export must be defineSource/);
});

class Snk extends SinkConnector {
  static className = "Snk";
}
class SnkTask extends SinkTask {
  start() {
    this.seen = [];
  }
  put(records) {
    for (const r of records) {
      if (r.value === "bad") errantRecordReporter.report(r, new Error("unparseable"));
      else this.seen.push(r.value);
    }
  }
  preCommit(offsets) {
    return offsets.filter((o) => o.partition === 0);
  }
}

test("sink tasks get decoded records, report errant ones and choose what to commit", () => {
  testing.reset();
  const { sinkTask } = exportsFor(defineSink(Snk, SnkTask), "sink");
  sinkTask.start([]);
  const record = (offset, value) => ({
    topic: 0, partition: 0, offset, key: null, value: { schema: null, value: { tag: "string", val: value } },
    timestamp: null, timestampType: "create-time", headerCount: 0,
    originalTopic: 1, originalPartition: 0, originalOffset: offset + 100,
  });
  sinkTask.put({ schemas: [], topics: ["t", "raw"], headers: [], records: [record(0, "a"), record(1, "bad")] });
  assert.deepEqual(testing.reports(), [{ topic: "raw", partition: 0, offset: 101, error: "unparseable" }]);
  const committed = sinkTask.preCommit([
    { topic: "t", partition: 0, offset: 2 },
    { topic: "t", partition: 1, offset: 5 },
  ]);
  assert.deepEqual(committed, [{ topic: "t", partition: 0, offset: 2 }]);
  const [decoded] = decodeSinkBatch({ schemas: [], topics: ["t", "raw"], headers: [], records: [record(3, "x")] });
  assert.deepEqual([decoded.topic, decoded.originalTopic, decoded.value], ["t", "raw", "x"]);
  // 64-bit integers arrive as BigInts; records carry numbers, as the types say.
  const [stamped] = decodeSinkBatch({ schemas: [], topics: ["t", "raw"], headers: [], records: [{ ...record(3, "x"), offset: 3n, originalOffset: 103n, timestamp: 1700000000000n }] });
  assert.deepEqual([stamped.offset, stamped.originalOffset, stamped.timestamp], [3, 103, 1700000000000]);
  const header = (key) => ({ key, value: { schema: null, value: { tag: "string", val: key } } });
  const withHeaders = (count) => ({ ...record(4, "y"), headerCount: count });
  const decodedHeaders = decodeSinkBatch({
    schemas: [], topics: ["t", "raw"], headers: [header("a"), header("b"), header("c")],
    records: [withHeaders(1), withHeaders(0), withHeaders(2)],
  }).map((r) => r.headers.map((h) => h.value));
  assert.deepEqual(decodedHeaders, [["a"], [], ["b", "c"]]);
  assert.throws(
    () => decodeSinkBatch({ schemas: [], topics: ["t", "raw"], headers: [header("a")], records: [withHeaders(0), withHeaders(2)] }),
    /malformed sink batch: record 1 has 2 headers, past the end of the batch's 1 headers/,
  );
  assert.throws(
    () => decodeSinkBatch({ schemas: [], topics: ["t", "raw"], headers: [header("a")], records: [withHeaders(0)] }),
    /its records have 0 headers, but its `headers` list has 1/,
  );
  assert.throws(
    () => decodeSinkBatch({ schemas: [], topics: ["t"], headers: [], records: [record(3, "x")] }),
    /malformed sink batch: topic 1 does not exist \(the batch has 1 topics\)/,
  );
});

test("a bad source record is rejected naming the record and the place", async () => {
  const { encodeSourceRecord } = await import("../src/connector.js");
  const schema = SchemaBuilder.struct().field("a", Schema.INT32).build();
  const cases = [
    [{ topic: "t", value: { a: "x" }, valueSchema: schema }, "record 3 value.a: expected an integer, got a string (x)"],
    [{ topic: "t", key: new (class Foo {})() }, "record 3 key: cannot send a Foo without a schema"],
    [{ topic: "t", sourceOffset: { x: {} } }, "record 3 sourceOffset.x: offsets hold only null, booleans, numbers and strings, not object"],
    [{ topic: "" }, "record 3: `topic` must be a non-empty string"],
  ];
  for (const [record, message] of cases) {
    assert.throws(() => encodeSourceRecord(record, new SchemaTable(), 3), { message });
  }
});

test("fs works in a granted directory under Node, and replaceFile survives a failed write", async () => {
  const nodeFs = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const { fs } = await import("../src/index.js");
  testing.reset();
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "sdk-fs-"));
  assert.throws(() => fs.readText(`${dir}/x`), /no access to .*testing\.grantDirectory/);
  testing.grantDirectory(dir);
  fs.replaceFile(`${dir}/state`, "one");
  assert.equal(fs.readText(`${dir}/state`), "one");
  assert.equal(fs.exists(`${dir}/state.tmp`), false);
  testing.failNextWrite((file) => file.endsWith("/state.tmp"));
  assert.throws(() => fs.replaceFile(`${dir}/state`, "two"), /cannot write/);
  assert.equal(fs.readText(`${dir}/state`), "one");
  fs.replaceFile(`${dir}/state`, "three");
  assert.equal(fs.readText(`${dir}/state`), "three");
  assert.deepEqual(fs.list(dir), ["state"]);
  assert.throws(() => fs.readText(`${dir}/../elsewhere`), /no access|not-permitted/);
});

test("text is written as the same UTF-8 Node writes, lone surrogates as U+FFFD", async () => {
  const { fs } = await import("../src/index.js");
  const samples = [
    "",
    "plain ASCII, number 000042",
    "caf\u00e9 \u20ac",
    "\u{1F600} pair",
    "lone \ud800 high and \udc00 low",
    "ends high \ud83d",
    "\u0000\u007f\u0080\u07ff\u0800\uffff",
  ];
  for (const text of samples) {
    const utf8 = new Uint8Array(Buffer.from(text, "utf8"));
    assert.deepEqual(fs.utf8Encode(text), utf8, JSON.stringify(text));
    assert.deepEqual(fs.utf8EncodeLoop(text), utf8, JSON.stringify(text));
    assert.equal(fs.utf8Decode(fs.utf8Encode(text)), Buffer.from(text, "utf8").toString("utf8"));
  }
  // The built-ins' way, as under QuickJS (Node 20 has no `Uint8Array.fromBase64`).
  const had = Object.getOwnPropertyDescriptor(Uint8Array, "fromBase64");
  Uint8Array.fromBase64 = (base64) => new Uint8Array(Buffer.from(base64, "base64"));
  try {
    for (const text of samples) {
      assert.deepEqual(fs.utf8Encode(text), new Uint8Array(Buffer.from(text, "utf8")), JSON.stringify(text));
    }
  } finally {
    if (had) Object.defineProperty(Uint8Array, "fromBase64", had);
    else delete Uint8Array.fromBase64;
  }
});
