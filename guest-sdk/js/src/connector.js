// The classes a connector extends, and the glue that turns them into the WIT exports
// (`connector` plus `source-task` or `sink-task`). Every call into user code is guarded: a
// thrown value becomes a `connector-error` carrying its message and JavaScript stack (or,
// for functions that cannot return an error, a log line and a clean failure), never a silent
// drop or an opaque trap.

import { Config, ConfigDef } from "./config.js";
import { FatalError, describeThrown, toWitError } from "./errors.js";
import { SLOW, SchemaReader, SchemaTable, decodeData, encodeData, jsonEncoder, jsonSchemaless, located } from "./data.js";
import { fromOffsetMap, toOffsetMap } from "./offsets.js";
import { log } from "./host.js";

/**
 * Kafka Connect's `SourceConnector`/`SinkConnector`. Static members describe the plugin:
 * `className` (required), `description`, `aliases`, `version`, `configDef` (a `ConfigDef`).
 * One instance serves the connector: the SDK constructs it and calls `start(config)`.
 */
export class Connector {
  static className = undefined;
  static description = "";
  static aliases = [];
  static version = "0.0.0";
  static configDef = new ConfigDef();
  /** Cross-field checks; returns `ConfigValue`s. The default applies `configDef`. */
  static validate(config) {
    return this.configDef.validate(config);
  }
  /** Called once with the full, checked configuration (getters fall back to `configDef` defaults). */
  start(config) {
    this.config = config;
  }
  /** At most `maxTasks` task configurations: `Config`s, plain objects or `[key, value]` arrays. */
  taskConfigs(maxTasks) {
    return [this.config ?? {}];
  }
  stop() {}
}
export class SourceConnector extends Connector {}
export class SinkConnector extends Connector {}

/** Kafka Connect's `SourceTask`. One instance serves one task. */
export class SourceTask {
  /** Return `{ wantsCommitRecords: true }` to get `commitRecord` calls. */
  start(config) {}
  /** The next records (an array of source records; empty or null means "nothing now"). */
  poll() {
    return [];
  }
  /** The host stored the offsets of acknowledged records. */
  commit() {}
  /** One acknowledged (or dropped, `metadata` null) record, if `start` asked for them. */
  commitRecord(record, metadata) {}
  stop() {}
}

/** Kafka Connect's `SinkTask`. One instance serves one task. */
export class SinkTask {
  start(config) {}
  open(partitions) {}
  /** Records to write. Throw a `RetriableError` to have the same batch delivered again. */
  put(records) {
    throw new FatalError(`${this.constructor.name} does not implement put(records)`);
  }
  /** Make everything `put` so far durable (the default `preCommit` calls it). */
  flush(offsets) {}
  /** The offsets safe to commit; Kafka Connect's default: flush, then all of `offsets`. */
  preCommit(offsets) {
    this.flush(offsets);
    return offsets;
  }
  close(partitions) {}
  stop() {}
}

/** A source connector definition: `export default defineSource(MyConnector, MyTask)`. */
export function defineSource(connector, task) {
  check(connector, SourceConnector, "defineSource", "SourceConnector");
  check(task, SourceTask, "defineSource", "SourceTask");
  return Object.freeze({ kind: "source", connector, task });
}

/** A sink connector definition: `export default defineSink(MyConnector, MyTask)`. */
export function defineSink(connector, task) {
  check(connector, SinkConnector, "defineSink", "SinkConnector");
  check(task, SinkTask, "defineSink", "SinkTask");
  return Object.freeze({ kind: "sink", connector, task });
}

function check(cls, base, fn, baseName) {
  if (typeof cls !== "function" || !(cls.prototype instanceof base)) {
    throw new TypeError(`${fn}: expected a class extending ${baseName}, got ${cls?.name ?? String(cls)}`);
  }
}

function toPairs(config, what) {
  if (config instanceof Config) return config.pairs();
  if (Array.isArray(config)) return config.map(([k, v]) => [String(k), String(v)]);
  if (config && typeof config === "object") return Object.entries(config).map(([k, v]) => [k, String(v)]);
  throw new FatalError(`${what}: expected a Config, an object or [key, value] pairs, got ${String(config)}`);
}

/** Runs `fn`, turning anything thrown into the WIT `connector-error` the bindings expect. */
function guarded(call, fn) {
  try {
    return fn();
  } catch (thrown) {
    const error = toWitError(thrown);
    log.debug(`${call} failed: ${error.val}`);
    throw error;
  }
}

/** For exports without an error channel: log, then fail with the message and stack. */
function mustSucceed(call, fn) {
  try {
    return fn();
  } catch (thrown) {
    const text = describeThrown(thrown);
    log.error(`${call} threw: ${text}`);
    throw new Error(`${call} threw: ${text}`);
  }
}

function connectorExport(cls) {
  let instance = null;
  return {
    describe: () =>
      mustSucceed("describe", () => {
        if (typeof cls.className !== "string" || cls.className === "") {
          throw new TypeError(`${cls.name}: set \`static className = "..."\` (the name users put in connector.class)`);
        }
        return { className: cls.className, aliases: [...(cls.aliases ?? [])], description: cls.description ?? "" };
      }),
    version: () => mustSucceed("version", () => String(cls.version)),
    configDef: () => mustSucceed("config-def", () => cls.configDef.keys.map((k) => ({ ...k }))),
    validate: (pairs) => {
      try {
        return cls.validate(new Config(pairs, cls.configDef));
      } catch (thrown) {
        // `validate` has no error channel; an entry with an error makes the config invalid.
        return [{ name: "connector.class", value: null, recommendedValues: [], errors: [`validate threw: ${describeThrown(thrown)}`], visible: true }];
      }
    },
    start: (pairs) =>
      guarded("start", () => {
        instance = new cls();
        instance.start(cls.configDef.parse(pairs));
      }),
    taskConfigs: (maxTasks) =>
      guarded("task-configs", () => {
        const configs = instance.taskConfigs(maxTasks) ?? [];
        return configs.map((c, i) => toPairs(c, `taskConfigs()[${i}]`));
      }),
    stop: () => {
      try {
        instance?.stop();
      } catch (thrown) {
        log.error(`stop threw: ${describeThrown(thrown)}`);
      }
    },
  };
}

function taskConfig(definition, pairs) {
  return new Config(pairs, definition.task.configDef ?? definition.connector.configDef);
}

/**
 * The topics and source partitions of one batch, which WIT records refer to by index (each
 * listed once). Tasks usually pass the same partition object with every record, so each object
 * is converted once per batch; equal partitions in different objects share one entry too.
 * Offsets change per record and are always converted.
 */
export class RecordTables {
  constructor() {
    this.topics = [];
    this.sourcePartitions = [];
    this.topicIndex = new Map();
    this.byObject = new Map();
    this.byContent = new Map();
    this.lastTopic = undefined;
    this.lastTopicIndex = 0;
    this.lastPartition = undefined;
    this.lastPartitionIndex = 0;
  }
  topic(topic) {
    // A task's records nearly always share one topic and one partition object.
    if (topic === this.lastTopic) return this.lastTopicIndex;
    const index = this.topicEntry(topic);
    this.lastTopic = topic;
    this.lastTopicIndex = index;
    return index;
  }
  topicEntry(topic) {
    let index = this.topicIndex.get(topic);
    if (index === undefined) {
      index = this.topics.length;
      this.topics.push(topic);
      this.topicIndex.set(topic, index);
    }
    return index;
  }
  partition(partition, i) {
    if (partition === this.lastPartition && partition !== undefined) return this.lastPartitionIndex;
    const index = this.partitionEntry(partition, i);
    this.lastPartition = partition;
    this.lastPartitionIndex = index;
    return index;
  }
  partitionEntry(partition, i) {
    const isObject = partition !== null && typeof partition === "object";
    if (isObject) {
      const index = this.byObject.get(partition);
      if (index !== undefined) return index;
    }
    const map = toOffsetMap(partition, () => `record ${i} sourcePartition`);
    // JSON escapes keys and strings, and the tag tells an int from a float or a string.
    const content = JSON.stringify(map, (_, v) => (typeof v === "bigint" ? v.toString() : v));
    let index = this.byContent.get(content);
    if (index === undefined) {
      index = this.sourcePartitions.length;
      this.sourcePartitions.push(map);
      this.byContent.set(content, index);
    }
    if (isObject) this.byObject.set(partition, index);
    return index;
  }
}

function recordError(error, i, part) {
  return located(error, `record ${i} ${part}`);
}

/** Source record (plain object) → WIT `source-record`. `i` numbers it in errors. */
export function encodeSourceRecord(record, table, i, tables = new RecordTables()) {
  if (!record || typeof record !== "object") throw new FatalError(`record ${i}: expected a source record object, got ${String(record)}`);
  if (typeof record.topic !== "string" || record.topic === "") throw new FatalError(`record ${i}: \`topic\` must be a non-empty string`);
  // Error texts are built only when something is wrong: this runs for every record.
  const { key, value, headers, timestamp, keySchema, valueSchema } = record;
  let keyData = null;
  let valueData = null;
  try {
    if (keySchema || (key !== null && key !== undefined)) keyData = encodeData(keySchema ?? null, key, table, "");
  } catch (error) {
    throw recordError(error, i, "key");
  }
  try {
    if (valueSchema || (value !== null && value !== undefined)) valueData = encodeData(valueSchema ?? null, value, table, "");
  } catch (error) {
    throw recordError(error, i, "value");
  }
  return {
    sourcePartition: tables.partition(record.sourcePartition, i),
    sourceOffset: toOffsetMap(record.sourceOffset, () => `record ${i} sourceOffset`),
    topic: tables.topic(record.topic),
    partition: record.partition ?? null,
    key: keyData,
    value: valueData,
    timestamp: timestamp instanceof Date ? timestamp.getTime() : (timestamp ?? null),
    headers:
      headers && headers.length
        ? headers.map((h, k) => ({ key: String(h.key), value: encodeData(h.schema ?? null, h.value, table, () => `record ${i} header ${k}`) }))
        : [],
  };
}

/** A source offset as a JSON object, or `SLOW` for anything the WIT form must check. */
function jsonOffset(offset) {
  if (offset === null || offset === undefined) return {};
  if (!isPlainObjectValue(offset)) throw SLOW;
  for (const key in offset) {
    const v = offset[key];
    switch (typeof v) {
      case "boolean":
      case "string":
        continue;
      case "number":
        if (Number.isSafeInteger(v) || (Number.isFinite(v) && !Number.isInteger(v))) continue;
        throw SLOW;
      case "object":
        if (v === null) continue;
    }
    throw SLOW;
  }
  return offset;
}

function isPlainObjectValue(value) {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function jsonData(schema, value, table) {
  if (schema) return [table.index(schema), jsonEncoder(schema)(value)];
  return [null, jsonSchemaless(value, 0)];
}

/** A key's or value's JSON form, remembering the last schema's index and encoder: a task's
 * records nearly always share them. */
class JsonSlot {
  constructor(table) {
    this.table = table;
    this.schema = null;
    this.index = 0;
    this.encode = null;
  }
  data(schema, value) {
    if (!schema) return value === null || value === undefined ? null : [null, jsonSchemaless(value, 0)];
    if (schema !== this.schema) {
      this.index = this.table.index(schema);
      this.encode = jsonEncoder(schema);
      this.schema = schema;
    }
    return [this.index, this.encode(value)];
  }
}

/**
 * The records of a poll as one JSON text (`source-batch.records-json`), interning schemas,
 * topics and source partitions in `table` and `tables`; null when any record needs the WIT
 * form (the caller then encodes the batch as WIT records, with fresh tables, which name what
 * is wrong).
 */
export function jsonRecords(records, table, tables) {
  const rows = new Array(records.length);
  const keys = new JsonSlot(table);
  const values = new JsonSlot(table);
  try {
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (!record || typeof record !== "object") return null;
      const { topic, key, value, headers, keySchema, valueSchema } = record;
      if (typeof topic !== "string" || topic === "") return null;
      let partition = record.partition ?? null;
      if (partition !== null && !Number.isInteger(partition)) return null;
      let timestamp = record.timestamp ?? null;
      if (timestamp instanceof Date) timestamp = timestamp.getTime();
      if (timestamp !== null && !Number.isSafeInteger(timestamp)) return null;
      rows[i] = [
        tables.partition(record.sourcePartition, i),
        jsonOffset(record.sourceOffset),
        tables.topic(topic),
        partition,
        keys.data(keySchema, key),
        values.data(valueSchema, value),
        timestamp,
        headers && headers.length ? headers.map((h) => [String(h.key), ...jsonData(h.schema ?? null, h.value, table)]) : [],
      ];
    }
    return JSON.stringify(rows);
  } catch {
    // `SLOW`, or anything the WIT encoding reports properly (a bad partition, a Schema
    // that is not one, a bigint JSON cannot write).
    return null;
  }
}

function decodeRecordCommon(r, reader, headers) {
  const key = decodeData(r.key, reader);
  const value = decodeData(r.value, reader);
  return {
    key: key.value,
    keySchema: key.schema,
    value: value.value,
    valueSchema: value.schema,
    timestamp: r.timestamp == null ? null : Number(r.timestamp),
    headers: decodeHeaders(headers, reader),
  };
}

function decodeHeaders(headers, reader) {
  return headers.map((h) => {
    const d = decodeData(h.value, reader);
    return { key: h.key, value: d.value, schema: d.schema };
  });
}

function sourceTaskExport(definition) {
  let task = null;
  const started = (call) => {
    if (!task) throw new FatalError(`${call} called before start`);
    return task;
  };
  return {
    start: (pairs) =>
      guarded("start", () => {
        task = new definition.task();
        const options = task.start(taskConfig(definition, pairs));
        return { wantsCommitRecords: !!options?.wantsCommitRecords };
      }),
    poll: () =>
      guarded("poll", () => {
        const records = started("poll").poll() ?? [];
        if (!Array.isArray(records)) throw new FatalError(`poll must return an array of records, got ${typeof records}`);
        if (records.length > 0) {
          const table = new SchemaTable();
          const tables = new RecordTables();
          const text = jsonRecords(records, table, tables);
          if (text !== null) {
            return { schemas: table.nodes, topics: tables.topics, sourcePartitions: tables.sourcePartitions, records: [], recordsJson: text };
          }
        }
        // Empty, or something only WIT records carry (their encoding names what is wrong).
        const table = new SchemaTable();
        const tables = new RecordTables();
        const out = new Array(records.length);
        for (let i = 0; i < records.length; i++) out[i] = encodeSourceRecord(records[i], table, i, tables);
        return { schemas: table.nodes, topics: tables.topics, sourcePartitions: tables.sourcePartitions, records: out, recordsJson: null };
      }),
    commit: () => guarded("commit", () => started("commit").commit()),
    commitRecords: (batch) =>
      guarded("commit-records", () => {
        const reader = new SchemaReader(batch.schemas);
        const partitions = batch.sourcePartitions.map(fromOffsetMap);
        const entry = (table, index, what) => tableEntry("committed", table, index, what);
        for (const { record: r, metadata } of batch.records) {
          const record = {
            sourcePartition: { ...entry(partitions, r.sourcePartition, "source partition") },
            sourceOffset: fromOffsetMap(r.sourceOffset),
            topic: entry(batch.topics, r.topic, "topic"),
            partition: r.partition ?? null,
            ...decodeRecordCommon(r, reader, r.headers),
          };
          started("commit-records").commitRecord(record, metadata ?? null);
        }
      }),
    stop: () => {
      try {
        task?.stop();
      } catch (thrown) {
        log.error(`stop threw: ${describeThrown(thrown)}`);
      }
    },
  };
}

/** Entry `index` of one of a batch's tables, or a fatal error naming the batch and table. */
function tableEntry(batch, table, index, what) {
  if (index >= table.length) throw new FatalError(`malformed ${batch} batch: ${what} ${index} does not exist (the batch has ${table.length} ${what}s)`);
  return table[index];
}

/**
 * WIT `sink-batch` → sink records (plain objects). Each record's headers are the next
 * `headerCount` of the batch's `headers`.
 */
export function decodeSinkBatch(batch) {
  const reader = new SchemaReader(batch.schemas);
  const topic = (index) => tableEntry("sink", batch.topics, index, "topic");
  const all = batch.headers;
  const wit = batch.records;
  const records = new Array(wit.length);
  let at = 0;
  for (let i = 0; i < wit.length; i++) {
    const r = wit[i];
    const count = r.headerCount;
    if (at + count > all.length) {
      throw new FatalError(`malformed sink batch: record ${i} has ${count} headers, past the end of the batch's ${all.length} headers`);
    }
    const key = r.key ? decodeData(r.key, reader) : NO_DATA;
    const value = r.value ? decodeData(r.value, reader) : NO_DATA;
    // One object literal, without spreads: this runs for every record under QuickJS.
    records[i] = {
      topic: topic(r.topic),
      partition: r.partition,
      offset: Number(r.offset),
      key: key.value,
      keySchema: key.schema,
      value: value.value,
      valueSchema: value.schema,
      timestamp: r.timestamp == null ? null : Number(r.timestamp),
      timestampType: r.timestampType,
      headers: count === 0 ? [] : decodeHeaders(all.slice(at, at + count), reader),
      originalTopic: topic(r.originalTopic),
      originalPartition: r.originalPartition,
      originalOffset: Number(r.originalOffset),
    };
    at += count;
  }
  if (at !== all.length) {
    throw new FatalError(`malformed sink batch: its records have ${at} headers, but its \`headers\` list has ${all.length}`);
  }
  return records;
}
const NO_DATA = Object.freeze({ schema: null, value: null });

function sinkTaskExport(definition) {
  let task = null;
  const started = (call) => {
    if (!task) throw new FatalError(`${call} called before start`);
    return task;
  };
  const offsetsOut = (offsets) =>
    (offsets ?? []).map((o) => ({ topic: String(o.topic), partition: o.partition, offset: Number(o.offset) }));
  return {
    start: (pairs) =>
      guarded("start", () => {
        task = new definition.task();
        task.start(taskConfig(definition, pairs));
      }),
    open: (partitions) => guarded("open", () => started("open").open(partitions)),
    put: (batch) => guarded("put", () => started("put").put(decodeSinkBatch(batch))),
    preCommit: (offsets) =>
      guarded("pre-commit", () =>
        offsetsOut(started("pre-commit").preCommit(offsets.map((o) => ({ ...o, offset: Number(o.offset) })))),
      ),
    close: (partitions) => guarded("close", () => started("close").close(partitions)),
    stop: () => {
      try {
        task?.stop();
      } catch (thrown) {
        log.error(`stop threw: ${describeThrown(thrown)}`);
      }
    },
  };
}

/**
 * The WIT exports for a definition, checked against the world the component is built for.
 * `build.sh` calls this from the generated entry module.
 */
export function exportsFor(definition, world) {
  if (!definition || (definition.kind !== "source" && definition.kind !== "sink")) {
    throw new TypeError(
      "the connector module's default export must be defineSource(Connector, Task) or defineSink(Connector, Task)",
    );
  }
  if (world && definition.kind !== world) {
    throw new TypeError(
      `the connector module defines a ${definition.kind} connector, but package.json says "wasm-connect": { "world": "${world}" }`,
    );
  }
  const connector = connectorExport(definition.connector);
  return definition.kind === "source"
    ? { connector, sourceTask: sourceTaskExport(definition) }
    : { connector, sinkTask: sinkTaskExport(definition) };
}
