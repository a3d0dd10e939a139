// TickerSource: the connector docs/guides/javascript.md walks through. One struct record per
// number, resuming after the last number the log acknowledged.
import {
  ConfigDef, ConfigType, Importance, Validator,
  SourceConnector, SourceTask, defineSource,
  SchemaBuilder, Struct, Logical,
  offsetStorageReader, sourceContext, log, InvalidConfigError,
} from "wasm-connect-sdk";

// The value schema: built once, shared by every record (a batch carries it once).
const TICK = SchemaBuilder.struct()
  .name("demo.Tick")
  .field("n", SchemaBuilder.int64().build())
  .field("word", SchemaBuilder.string().build())
  .field("at", Logical.timestamp().build())
  .build();

class TickerSource extends SourceConnector {
  static className = "TickerSource";
  static description = "Counts, one record per number, and resumes where it stopped";
  static version = "0.1.0";
  static configDef = new ConfigDef()
    .define("topic", ConfigType.STRING, { importance: Importance.HIGH, validator: Validator.nonEmptyString(), doc: "Where to write." })
    .define("words", ConfigType.LIST, { default: "tick,tock", doc: "Words to cycle through." })
    .define("batch.size", ConfigType.INT, { default: 10, validator: Validator.between(1, 1000), doc: "Records per poll." })
    .define("max", ConfigType.LONG, { default: 100, doc: "Stop after this many numbers." });

  start(config) {
    if (config.getList("words").length === 0) throw new InvalidConfigError("words: give at least one word");
    this.config = config;
  }

  taskConfigs(maxTasks) {
    return [this.config]; // one counter, one task
  }
}

class TickerTask extends SourceTask {
  start(config) {
    this.topic = config.getString("topic");
    this.words = config.getList("words");
    this.batchSize = config.getInt("batch.size");
    this.max = config.getLong("max");
    this.partition = { counter: this.topic };
    // Resume after the last number the log acknowledged.
    const committed = offsetStorageReader.offset(this.partition);
    this.next = committed ? committed.n + 1 : 0;
    log.info(`starting at ${this.next}`);
  }

  poll() {
    const records = [];
    while (records.length < this.batchSize && this.next < this.max) {
      const n = this.next++;
      records.push({
        sourcePartition: this.partition,
        sourceOffset: { n },
        topic: this.topic,
        key: String(n),
        value: new Struct(TICK, { n, word: this.words[n % this.words.length], at: new Date() }),
        valueSchema: TICK,
      });
    }
    // Counted to the end: nothing more, ever, so the host need not call poll again.
    if (records.length === 0) sourceContext.pollAgainAfter(null);
    return records;
  }
}

export default defineSource(TickerSource, TickerTask);
