// Compiled (not run) by build-examples.sh with `tsc --noEmit -p guest-sdk/js`: keeps
// types/index.d.ts and types/wit/ consistent with each other and usable from TypeScript.
import {
  ConfigDef, ConfigType, Importance, Validator, SourceConnector, SourceTask, SinkConnector, SinkTask,
  defineSource, defineSink, Schema, SchemaBuilder, Struct, Logical, offsetStorageReader, sinkContext,
  errantRecordReporter, fs, log, toPlain, RetriableError, type SinkRecord, type TopicPartitionOffset,
} from "wasm-connect-sdk";
import type { SourceBatch } from "wasm-connect:connector/source-task@0.1.0";

const ORDER = SchemaBuilder.struct().name("o").field("id", Schema.INT64).field("at", Logical.timestamp().build()).build();

class C extends SourceConnector {
  static className = "C";
  static configDef = new ConfigDef().define("topic", ConfigType.STRING, { importance: Importance.HIGH, validator: Validator.nonEmptyString() });
}
class T extends SourceTask {
  next = 0;
  start(): void {
    const committed = offsetStorageReader.offset({ f: "a" });
    this.next = typeof committed?.seq === "number" ? committed.seq + 1 : 0;
  }
  poll() {
    log.info("polling", this.next);
    return [{ sourcePartition: { f: "a" }, sourceOffset: { seq: this.next }, topic: "t", value: new Struct(ORDER, { id: this.next, at: new Date() }), valueSchema: ORDER }];
  }
}
class K extends SinkConnector {
  static className = "K";
}
class U extends SinkTask {
  put(records: SinkRecord[]): void {
    const file = fs.openAppend("/data/out.txt");
    for (const r of records) {
      if (r.value === null) errantRecordReporter.report(r, "null value");
      else file.append(JSON.stringify(toPlain(r.value)) + "\n");
    }
    if (records.length > 1000) throw new RetriableError("too many");
    fs.replaceFile("/data/out.offset", JSON.stringify({ size: file.size() }));
    sinkContext.requestCommit();
  }
  preCommit(offsets: TopicPartitionOffset[]): TopicPartitionOffset[] {
    return offsets;
  }
}
export const source = defineSource(C, T);
export const sink = defineSink(K, U);
export const empty: SourceBatch = { schemas: [], topics: [], sourcePartitions: [], records: [] };
