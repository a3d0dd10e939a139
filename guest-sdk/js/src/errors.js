// Errors a connector throws, and how any thrown value becomes the WIT `connector-error`.
//
// Throw `InvalidConfigError` when the settings cannot work, `RetriableError` for transient
// conditions (the host retries the call) and anything else (`FatalError`, or any `Error`) to
// fail the connector or task. The message and the JavaScript stack become the task's trace.

/** Base class of the errors that map onto the WIT `connector-error` cases. */
export class ConnectorError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = this.constructor.name;
  }
  /** The WIT case: `invalid-config`, `retriable` or `fatal`. */
  get kind() {
    return "fatal";
  }
}

/** The configuration cannot work; the host fails the connector or task and does not retry. */
export class InvalidConfigError extends ConnectorError {
  get kind() {
    return "invalid-config";
  }
}

/** A transient condition; the host retries the same call (for `put`, with the same batch). */
export class RetriableError extends ConnectorError {
  get kind() {
    return "retriable";
  }
}

/** Anything else; the host fails the connector or task with the message as its trace. */
export class FatalError extends ConnectorError {}

/** A data value that does not fit its schema, or a schema that is malformed. */
export class DataError extends FatalError {}

/**
 * The text a thrown value leaves in the task's trace: the message, then the JavaScript stack
 * (without repeating the message where `stack` already starts with it).
 */
export function describeThrown(thrown) {
  if (thrown instanceof Error) {
    const head = thrown.name && thrown.name !== "Error" ? `${thrown.name}: ${thrown.message}` : thrown.message;
    const stack = typeof thrown.stack === "string" ? thrown.stack.trimEnd() : "";
    // V8 starts `stack` with the message line; QuickJS does not.
    let text = !stack ? head : stack.startsWith(head) ? stack : `${head}\n${stack}`;
    if (thrown.cause !== undefined) text += `\nCaused by: ${describeThrown(thrown.cause)}`;
    return text;
  }
  if (typeof thrown === "string") return thrown;
  try {
    return `non-Error value thrown: ${JSON.stringify(thrown)}`;
  } catch {
    return `non-Error value thrown: ${String(thrown)}`;
  }
}

/** Any thrown value as the WIT `connector-error` variant (what the bindings expect thrown). */
export function toWitError(thrown) {
  const kind = thrown instanceof ConnectorError ? thrown.kind : "fatal";
  return { tag: kind, val: describeThrown(thrown) };
}
