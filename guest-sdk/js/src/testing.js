// An in-memory double of the host imports, for testing connectors under Node
// (`node --test`, or `guest-sdk/js/test.sh <connector-dir>`): logs are collected, offsets are
// set by the test, sink context calls and dead-letter reports are recorded, directories the
// test grants are real directories behind the SDK's `fs` (as `sandbox.fs.write` grants
// them), and `validate` checks a config as the host's validate call does. `build.sh` never
// puts this file into a component.

import * as nodeFs from "node:fs";
import * as nodePath from "node:path";
import { Config } from "./config.js";

const state = {
  logs: [],
  offsets: new Map(),
  reconfigurations: 0,
  pollAgainAfter: [],
  raisedErrors: [],
  sinkCalls: [],
  reports: [],
  assignment: [],
  failWrite: null,
};

/** Directories granted to the connector: `[descriptor, path]` pairs, live for `fs`. */
const granted = [];

function key(offsetMap) {
  return JSON.stringify(offsetMap);
}

/** Forgets everything recorded; call at the start of each test. */
export function reset() {
  state.logs = [];
  state.offsets = new Map();
  state.reconfigurations = 0;
  state.pollAgainAfter = [];
  state.raisedErrors = [];
  state.sinkCalls = [];
  state.reports = [];
  state.assignment = [];
  state.failWrite = null;
  granted.length = 0;
}

/**
 * Lets the SDK's `fs` use the real directory `path` (absolute), as `sandbox.fs.write=<path>`
 * does in a worker. Paths outside every granted directory fail as they would in the sandbox.
 */
export function grantDirectory(path) {
  if (!nodePath.isAbsolute(path)) throw new Error(`grantDirectory needs an absolute path, got ${path}`);
  granted.push([new NodeDescriptor(path, true), path]);
}

/**
 * Makes the next write to a file whose path `matches` (a function of the absolute path) fail
 * after the file was opened (and truncated, if the call truncates), as a crash part-way through
 * the write would leave it. For testing that state files survive crashes.
 */
export function failNextWrite(matches) {
  state.failWrite = matches;
}

/**
 * Validates `settings` (a plain object, Map or `[key, value]` pairs) with the connector class's
 * `validate`, as the host's validate call does; returns `{ values, errors }`, `errors` mapping
 * each setting with problems to its messages.
 */
export function validate(connectorClass, settings) {
  const values = connectorClass.validate(new Config(settings, connectorClass.configDef));
  const errors = {};
  for (const value of values) if (value.errors.length) errors[value.name] = value.errors;
  return { values, errors };
}

/** Node's error codes as WASI's `error-code`s, thrown as the component bindings throw them. */
function wasiError(error) {
  const codes = { ENOENT: "no-entry", EEXIST: "exist", EACCES: "access", EPERM: "not-permitted", EISDIR: "is-directory", ENOTDIR: "not-directory", ENOTEMPTY: "not-empty" };
  return { tag: codes[error?.code] ?? "io" };
}

function wasi(fn) {
  try {
    return fn();
  } catch (error) {
    if (error?.tag) throw error;
    throw wasiError(error);
  }
}

/** A stream writing at `position` (or appending) to an open file. */
class NodeOutputStream {
  constructor(file, position) {
    this.file = file;
    this.position = position;
  }
  blockingWriteAndFlush(bytes) {
    if (state.failWrite?.(this.file.path)) {
      state.failWrite = null;
      throw { tag: "io" };
    }
    wasi(() => {
      const at = this.position ?? nodeFs.fstatSync(this.file.fd).size;
      nodeFs.writeSync(this.file.fd, bytes, 0, bytes.length, at);
      if (this.position !== null) this.position += bytes.length;
    });
  }
  [Symbol.dispose]() {}
}

/** A `wasi:filesystem` descriptor over a real file or directory: what `fs.js` calls. */
class NodeDescriptor {
  constructor(path, directory, fd = null) {
    this.path = path;
    this.directory = directory;
    this.fd = fd;
  }
  /** `rel` under this directory; `..` and absolute paths cannot leave it. */
  child(rel) {
    const full = nodePath.resolve(this.path, rel);
    if (full !== this.path && !full.startsWith(this.path + nodePath.sep)) throw { tag: "not-permitted" };
    return full;
  }
  openAt(_pathFlags, rel, openFlags, descriptorFlags) {
    const full = this.child(rel);
    return wasi(() => {
      if (openFlags.directory) {
        if (!nodeFs.statSync(full).isDirectory()) throw { tag: "not-directory" };
        return new NodeDescriptor(full, true);
      }
      let flags = descriptorFlags.write ? (descriptorFlags.read ? nodeFs.constants.O_RDWR : nodeFs.constants.O_WRONLY) : nodeFs.constants.O_RDONLY;
      if (openFlags.create) flags |= nodeFs.constants.O_CREAT;
      if (openFlags.truncate) flags |= nodeFs.constants.O_TRUNC;
      if (nodeFs.existsSync(full) && nodeFs.lstatSync(full).isSymbolicLink()) throw { tag: "loop" };
      return new NodeDescriptor(full, false, nodeFs.openSync(full, flags));
    });
  }
  statAt(_pathFlags, rel) {
    const full = this.child(rel);
    return wasi(() => {
      const stat = nodeFs.lstatSync(full);
      return { type: stat.isDirectory() ? "directory" : "regular-file", size: BigInt(stat.size) };
    });
  }
  stat() {
    return wasi(() => ({ size: BigInt(this.fd === null ? 0 : nodeFs.fstatSync(this.fd).size) }));
  }
  setSize(size) {
    wasi(() => nodeFs.ftruncateSync(this.fd, Number(size)));
  }
  syncData() {
    wasi(() => {
      if (this.fd !== null) return nodeFs.fdatasyncSync(this.fd);
      const fd = nodeFs.openSync(this.path, "r");
      try {
        nodeFs.fsyncSync(fd);
      } finally {
        nodeFs.closeSync(fd);
      }
    });
  }
  read(length, offset) {
    return wasi(() => {
      const buffer = new Uint8Array(Number(length));
      const n = nodeFs.readSync(this.fd, buffer, 0, buffer.length, Number(offset));
      return [buffer.subarray(0, n), n === 0];
    });
  }
  appendViaStream() {
    return new NodeOutputStream(this, null);
  }
  writeViaStream(offset) {
    return new NodeOutputStream(this, Number(offset));
  }
  readDirectory() {
    const names = wasi(() => nodeFs.readdirSync(this.path));
    let next = 0;
    return { readDirectoryEntry: () => (next < names.length ? { name: names[next++] } : null), [Symbol.dispose]() {} };
  }
  createDirectoryAt(rel) {
    const full = this.child(rel);
    wasi(() => nodeFs.mkdirSync(full));
  }
  unlinkFileAt(rel) {
    const full = this.child(rel);
    wasi(() => nodeFs.unlinkSync(full));
  }
  renameAt(rel, target, targetRel) {
    const from = this.child(rel);
    const to = target.child(targetRel);
    wasi(() => nodeFs.renameSync(from, to));
  }
  [Symbol.dispose]() {
    if (this.fd !== null) nodeFs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Sets the committed offset the offset storage reader returns for a source partition. */
export function setOffset(partition, offset) {
  // Kept in WIT form, as the real host would return it.
  state.offsets.set(key(toWit(partition)), toWit(offset));
}
function toWit(object) {
  return Object.entries(object).map(([k, v]) => [
    k,
    v === null
      ? { tag: "null" }
      : typeof v === "boolean"
        ? { tag: "boolean", val: v }
        : typeof v === "string"
          ? { tag: "string", val: v }
          : Number.isSafeInteger(v)
            ? { tag: "int", val: v }
            : { tag: "float", val: v },
  ]);
}

export const logs = () => state.logs;
export const reconfigurations = () => state.reconfigurations;
/** Each `sourceContext.pollAgainAfter` as the host got it (milliseconds, a number). */
export const pollAgainAfter = () => state.pollAgainAfter;
export const raisedErrors = () => state.raisedErrors;
export const sinkCalls = () => state.sinkCalls;
export const reports = () => state.reports;
export function setAssignment(partitions) {
  state.assignment = partitions;
}

export const doubles = {
  world: null,
  // The SDK's `fs` sees the directories granted with `grantDirectory`.
  preopens: { getDirectories: () => granted },
  logging: { log: (level, message) => state.logs.push({ level, message }) },
  connectorContext: {
    requestTaskReconfiguration: () => {
      state.reconfigurations += 1;
    },
    raiseError: (message) => state.raisedErrors.push(message),
  },
  sourceTaskContext: {
    pollAgainAfter: (milliseconds) => {
      // As the component's bindings do: a u64 must be a number.
      if (typeof milliseconds !== "number") throw new TypeError(`expected number, got ${typeof milliseconds}`);
      state.pollAgainAfter.push(milliseconds);
    },
  },
  offsetStorageReader: {
    offset: (partition) => state.offsets.get(key(partition)) ?? null,
    offsets: (partitions) => partitions.map((p) => state.offsets.get(key(p)) ?? null),
  },
  sinkTaskContext: {
    assignment: () => state.assignment,
    resetOffsets: (offsets) => state.sinkCalls.push(["resetOffsets", offsets]),
    pause: (partitions) => state.sinkCalls.push(["pause", partitions]),
    resume: (partitions) => state.sinkCalls.push(["resume", partitions]),
    requestCommit: () => state.sinkCalls.push(["requestCommit"]),
    timeout: (ms) => state.sinkCalls.push(["timeout", ms]),
  },
  errantRecordReporter: {
    report: (topic, partition, offset, error) => {
      state.reports.push({ topic, partition, offset, error });
      return state.reports.length;
    },
    status: () => ({ tag: "written" }),
    flush: () => {},
  },
};
