// An in-memory double of the host imports, for testing connectors under Node
// (`node --test`): logs are collected, offsets are set by the test, sink context calls and
// dead-letter reports are recorded. `build.sh` never puts this file into a component.

const state = {
  logs: [],
  offsets: new Map(),
  reconfigurations: 0,
  raisedErrors: [],
  sinkCalls: [],
  reports: [],
  assignment: [],
};

function key(offsetMap) {
  return JSON.stringify(offsetMap);
}

/** Forgets everything recorded; call at the start of each test. */
export function reset() {
  state.logs = [];
  state.offsets = new Map();
  state.reconfigurations = 0;
  state.raisedErrors = [];
  state.sinkCalls = [];
  state.reports = [];
  state.assignment = [];
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
export const raisedErrors = () => state.raisedErrors;
export const sinkCalls = () => state.sinkCalls;
export const reports = () => state.reports;
export function setAssignment(partitions) {
  state.assignment = partitions;
}

export const doubles = {
  world: null,
  logging: { log: (level, message) => state.logs.push({ level, message }) },
  connectorContext: {
    requestTaskReconfiguration: () => {
      state.reconfigurations += 1;
    },
    raiseError: (message) => state.raisedErrors.push(message),
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
