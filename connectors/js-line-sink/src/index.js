// JsLineSink: a sink connector written in JavaScript. Each record becomes one line (a
// JavaScript expression, or the value) appended to `<directory>/<topic>-<partition>.txt`.
// Exactly once across restarts and crashes: after syncing a file, `preCommit` records the next
// offset and the file's size in `<topic>-<partition>.offset` (replaced atomically, so a crash
// leaves the old mark or the new one); `open` cuts the file back to that size and rewinds
// consumption to that offset. See README.md.

import {
  ConfigDef,
  ConfigType,
  FatalError,
  Importance,
  SinkConnector,
  SinkTask,
  Validator,
  defineSink,
  fs,
  log,
  sinkContext,
} from "wasm-connect-sdk";
import { compileLine, lineOf } from "./format.js";

const configDef = new ConfigDef()
  .define("directory", ConfigType.STRING, {
    importance: Importance.HIGH,
    validator: Validator.nonEmptyString(),
    doc: "Absolute path of the directory to write to. Grant it with sandbox.fs.write (the same path).",
  })
  .define("line", ConfigType.STRING, {
    default: "",
    doc: "A JavaScript expression giving a record's line, over value, key, plain (the value as plain JSON data) and record; null or undefined skips the record. Empty: the value (strings as they are, other values as JSON).",
  });

class LineSink extends SinkConnector {
  static className = "JsLineSink";
  static aliases = ["LineSink"];
  static description = "One line per record from a JavaScript expression, a file per partition, exactly once (written in JavaScript, QuickJS)";
  static version = "0.1.0";
  static configDef = configDef;

  static validate(config) {
    const values = configDef.validate(config);
    const entry = (name) => values.find((v) => v.name === name);
    const directory = config.get("directory");
    if (directory && !directory.startsWith("/")) entry("directory").errors.push("directory must be an absolute path");
    try {
      compileLine(config.getString("line"));
    } catch (error) {
      entry("line").errors.push(error.message);
    }
    return values;
  }
}

/** The committed mark `{offset, size}` in `text`, or an error naming the file. */
function parseMark(text, path) {
  let mark;
  try {
    mark = JSON.parse(text);
  } catch (error) {
    throw new FatalError(`${path} is not a committed mark ({"offset": n, "size": n}): ${error.message}; restore it or remove it and the .txt file to start over`);
  }
  if (!Number.isSafeInteger(mark?.offset) || !Number.isSafeInteger(mark?.size)) {
    throw new FatalError(`${path} is not a committed mark ({"offset": n, "size": n}): ${text.slice(0, 100)}`);
  }
  return mark;
}

class LineTask extends SinkTask {
  start(config) {
    this.directory = config.getString("directory").replace(/\/+$/, "");
    this.format = compileLine(config.getString("line"));
    /** "topic-partition" → { file, path, next } */
    this.partitions = new Map();
  }

  base(topic, partition) {
    return `${this.directory}/${topic}-${partition}`;
  }

  open(partitions) {
    const rewind = [];
    for (const { topic, partition } of partitions) {
      const base = this.base(topic, partition);
      const file = fs.openAppend(`${base}.txt`);
      const mark = fs.readText(`${base}.offset`);
      if (mark === null) {
        // Nothing committed yet: whatever the file holds was never acknowledged.
        file.truncate(0);
      } else {
        const { offset, size } = parseMark(mark, `${base}.offset`);
        if (file.size() !== size) log.warn(`${base}.txt: cutting back to ${size} bytes, the last committed state`);
        file.truncate(size);
        rewind.push({ topic, partition, offset });
        log.info(`${topic}-${partition}: resuming at offset ${offset} in ${base}.txt`);
      }
      this.partitions.set(`${topic}-${partition}`, { file, base, next: null });
    }
    if (rewind.length) sinkContext.resetOffsets(rewind);
  }

  put(records) {
    const lines = new Map();
    // A batch comes in runs of one partition: look the partition up once per run.
    let topic = null;
    let partition = -1;
    let state = null;
    let batch = null;
    for (const record of records) {
      if (record.originalPartition !== partition || record.originalTopic !== topic) {
        topic = record.originalTopic;
        partition = record.originalPartition;
        const id = `${topic}-${partition}`;
        state = this.partitions.get(id);
        if (!state) throw new Error(`record of ${id}, which was not opened`);
        batch = lines.get(id);
        if (!batch) lines.set(id, (batch = []));
      }
      const line = lineOf(this.format, record);
      if (line !== null) batch.push(line);
      state.next = record.originalOffset + 1;
    }
    for (const [id, text] of lines) {
      if (text.length) this.partitions.get(id).file.append(text.join("\n") + "\n");
    }
  }

  preCommit(offsets) {
    const safe = [];
    for (const o of offsets) {
      const state = this.partitions.get(`${o.topic}-${o.partition}`);
      if (!state) continue;
      if (state.next !== null) {
        state.file.sync();
        fs.replaceFile(`${state.base}.offset`, JSON.stringify({ offset: state.next, size: state.file.size() }));
        safe.push({ topic: o.topic, partition: o.partition, offset: state.next });
        state.next = null;
      }
    }
    return safe;
  }

  close(partitions) {
    for (const { topic, partition } of partitions) {
      this.partitions.get(`${topic}-${partition}`)?.file.close();
      this.partitions.delete(`${topic}-${partition}`);
    }
  }

  stop() {
    for (const state of this.partitions.values()) state.file.close();
    this.partitions.clear();
  }
}

export default defineSink(LineSink, LineTask);
