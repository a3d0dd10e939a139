// JsTemplateSource: a source connector written in JavaScript. Each record is the value of a
// JavaScript expression (`template`) for a sequence number, typed by an optional struct schema.
// The sequence number is the source offset, so a restarted task resumes after the last record
// the log acknowledged. See README.md.

import {
  ConfigDef,
  ConfigType,
  Importance,
  SourceConnector,
  SourceTask,
  Validator,
  defineSource,
  log,
  offsetStorageReader,
  sourceContext,
} from "wasm-connect-sdk";
import { Generator, compileTemplate, parseSchema } from "./template.js";

const configDef = new ConfigDef()
  .define("topic", ConfigType.STRING, { importance: Importance.HIGH, validator: Validator.nonEmptyString(), doc: "The topic to write to." })
  .define("template", ConfigType.STRING, {
    importance: Importance.HIGH,
    doc: "A JavaScript expression giving each record's value, over seq (0, 1, ...), rand() in [0, 1), int(min, max), pick(array) and now (a Date).",
  })
  .define("schema", ConfigType.STRING, { default: "", doc: "Struct fields as `name:type,...` (int32, int64, float64, string, boolean, timestamp; `?` = optional). Empty: schemaless values." })
  .define("schema.name", ConfigType.STRING, { default: "template.Record", doc: "The struct schema's name." })
  .define("key.field", ConfigType.STRING, { default: "", doc: "A field of the value to use as the record key (a string). Empty: no key." })
  .define("count", ConfigType.LONG, { default: -1, validator: Validator.atLeast(-1), doc: "Records to produce in total, across restarts; -1 = no end." })
  .define("batch.size", ConfigType.INT, { default: 100, validator: Validator.between(1, 100000), doc: "Records per poll." })
  .define("interval.ms", ConfigType.LONG, { default: 0, validator: Validator.atLeast(0), doc: "Minimum time between two batches." })
  .define("seed", ConfigType.INT, { default: 0, doc: "Seed of rand(), int() and pick(): the same seed and seq give the same record." });

function settings(config) {
  return {
    topic: config.getString("topic"),
    template: config.getString("template"),
    schema: parseSchema(config.getString("schema"), config.getString("schema.name")),
    keyField: config.getString("key.field"),
    count: config.getLong("count"),
    batchSize: config.getInt("batch.size"),
    intervalMs: config.getLong("interval.ms"),
    seed: config.getInt("seed"),
  };
}

class TemplateSource extends SourceConnector {
  static className = "JsTemplateSource";
  static aliases = ["TemplateSource"];
  static description = "Records from a JavaScript template expression (written in JavaScript, QuickJS)";
  static version = "0.1.0";
  static configDef = configDef;

  static validate(config) {
    const values = configDef.validate(config);
    // Beyond the per-setting checks: the template must compile and the schema must parse.
    const problem = (name, check) => {
      const entry = values.find((v) => v.name === name);
      if (!entry || entry.errors.length) return;
      try {
        check();
      } catch (error) {
        entry.errors.push(error.message);
      }
    };
    problem("template", () => compileTemplate(config.getString("template")));
    problem("schema", () => parseSchema(config.getString("schema"), config.getString("schema.name")));
    return values;
  }

  start(config) {
    this.config = config;
    settings(config); // Fails start with the reason if anything is off.
  }

  taskConfigs() {
    // One sequence, one task: more tasks would need to split it, and resuming with a
    // different `tasks.max` could not line the splits up.
    return [this.config];
  }
}

class TemplateTask extends SourceTask {
  start(config) {
    this.s = settings(config);
    this.generator = new Generator(this.s);
    this.partition = { topic: this.s.topic };
    const committed = offsetStorageReader.offset(this.partition);
    this.next = committed && Number.isInteger(committed.seq) ? committed.seq + 1 : 0;
    this.lastBatch = 0;
    log.info(`JsTemplateSource task starting at seq ${this.next}${committed ? " (resumed)" : ""}`);
  }

  poll() {
    const { count, batchSize, intervalMs, topic, schema } = this.s;
    const remaining = count < 0 ? batchSize : Math.min(batchSize, count - this.next);
    if (remaining <= 0) {
      sourceContext.pollAgainAfter(null); // every record made: nothing more, ever
      return [];
    }
    const now = Date.now();
    if (intervalMs > 0 && now - this.lastBatch < intervalMs) {
      sourceContext.pollAgainAfter(this.lastBatch + intervalMs - now); // not before the next batch
      return [];
    }
    this.lastBatch = now;
    const records = [];
    for (let i = 0; i < remaining; i++) {
      const seq = this.next + i;
      const { key, keySchema, value } = this.generator.record(seq, new Date(now));
      records.push({
        sourcePartition: this.partition,
        sourceOffset: { seq },
        topic,
        key,
        keySchema,
        value,
        valueSchema: schema,
        timestamp: now,
      });
    }
    this.next += records.length;
    return records;
  }
}

export default defineSource(TemplateSource, TemplateTask);
