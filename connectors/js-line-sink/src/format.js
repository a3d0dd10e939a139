// Turning a sink record into a line: the `line` expression, or by default the value itself
// (strings as they are, anything else as JSON).

import { InvalidConfigError, FatalError, toPlain } from "wasm-connect-sdk";

/** Compiles `line`, an expression over `value`, `key`, `plain` and `record`; "" = the default. */
export function compileLine(expression) {
  if (expression.trim() === "") {
    return (record) => (typeof record.value === "string" ? record.value : JSON.stringify(toPlain(record.value)));
  }
  let fn;
  try {
    fn = new Function("value", "key", "plain", "record", `"use strict"; return (${expression}\n);`);
  } catch (error) {
    throw new InvalidConfigError(`line: ${error.message}`);
  }
  return (record) => fn(record.value, record.key, toPlain(record.value), record);
}

/** The line for `record` without its newline, or null to skip the record. */
export function lineOf(format, record) {
  let line;
  try {
    line = format(record);
  } catch (error) {
    throw new FatalError(`line threw for ${record.originalTopic}-${record.originalPartition}@${record.originalOffset}: ${error?.message ?? error}`, { cause: error });
  }
  if (line === null || line === undefined) return null;
  const text = typeof line === "string" ? line : JSON.stringify(line);
  if (text.includes("\n")) {
    throw new FatalError(`line for ${record.originalTopic}-${record.originalPartition}@${record.originalOffset} contains a newline; escape it (e.g. JSON.stringify)`);
  }
  return text;
}
