// JsLineSink's logic under Node (`guest-sdk/js/test.sh connectors/js-line-sink`), on a real
// directory granted as `sandbox.fs.write` would grant it: lines and marks, resuming, and a
// crash while the mark is written.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import * as testing from "wasm-connect-sdk/src/testing.js";
import { Config } from "wasm-connect-sdk";
import definition from "../src/index.js";

let dir;
beforeEach(() => {
  testing.reset();
  dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), "js-line-sink-"));
  testing.grantDirectory(dir);
});

const partition = { topic: "ticks", partition: 0 };

function task(settings = {}) {
  const task = new definition.task();
  task.start(definition.connector.configDef.parse(new Config({ directory: dir, ...settings })));
  task.open([partition]);
  return task;
}

function records(from, values) {
  return values.map((value, i) => ({ value, key: null, originalTopic: "ticks", originalPartition: 0, originalOffset: from + i }));
}

function commit(task, next) {
  return task.preCommit([{ ...partition, offset: next }]);
}

const read = (name) => nodeFs.readFileSync(path.join(dir, name), "utf8");

test("lines are written and the mark records the next offset and the size", () => {
  const sink = task();
  sink.put(records(0, ["a", "b"]));
  assert.deepEqual(commit(sink, 2), [{ ...partition, offset: 2 }]);
  assert.equal(read("ticks-0.txt"), "a\nb\n");
  assert.deepEqual(JSON.parse(read("ticks-0.offset")), { offset: 2, size: 4 });
});

test("a restart cuts what was written after the mark and rewinds to it", () => {
  const first = task();
  first.put(records(0, ["a", "b"]));
  commit(first, 2);
  first.put(records(2, ["never committed"]));
  first.stop();
  task();
  assert.equal(read("ticks-0.txt"), "a\nb\n");
  assert.deepEqual(testing.sinkCalls().at(-1), ["resetOffsets", [{ ...partition, offset: 2 }]]);
});

test("a crash while the mark is written leaves the previous mark whole", () => {
  const first = task();
  first.put(records(0, ["a", "b"]));
  commit(first, 2);
  first.put(records(2, ["c"]));
  // The process dies in the middle of writing the new mark.
  testing.failNextWrite((file) => file.includes("ticks-0.offset"));
  assert.throws(() => commit(first, 3), /cannot write/);
  first.stop();
  assert.deepEqual(JSON.parse(read("ticks-0.offset")), { offset: 2, size: 4 });
  task();
  assert.equal(read("ticks-0.txt"), "a\nb\n");
  assert.deepEqual(testing.sinkCalls().at(-1), ["resetOffsets", [{ ...partition, offset: 2 }]]);
});

test("a damaged mark fails the task naming the file", () => {
  nodeFs.writeFileSync(path.join(dir, "ticks-0.offset"), "");
  assert.throws(() => task(), /ticks-0\.offset is not a committed mark/);
});

test("validate names a relative directory and a broken line expression", () => {
  const { errors } = testing.validate(definition.connector, { directory: "relative", line: "value +" });
  assert.deepEqual(Object.keys(errors).sort(), ["directory", "line"]);
  assert.match(errors.directory[0], /absolute path/);
});

test("a directory that was not granted fails as in the sandbox", () => {
  testing.reset();
  assert.throws(() => task(), /no access to .*grant its directory/);
});
