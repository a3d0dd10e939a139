// Source partitions and offsets: plain objects of primitives on the JavaScript side, the WIT
// `offset-map` (a list of key and `scalar` pairs) on the wire.

import { DataError } from "./errors.js";

/**
 * `{ file: "a.txt", position: 10 }` → WIT `offset-map`. Integers become `int`, other numbers
 * `float`. `what` names the map in errors (a string, or a function called only on error).
 */
export function toOffsetMap(object, what) {
  if (object === null || object === undefined) return [];
  const name = () => (typeof what === "function" ? what() : what);
  if (typeof object !== "object" || Array.isArray(object)) {
    throw new DataError(`${name()} must be an object of primitives, e.g. { position: 10 }; got ${JSON.stringify(object)}`);
  }
  const out = [];
  for (const key in object) {
    out.push([key, toScalar(object[key], () => `${name()}.${key}`)]);
  }
  return out;
}

function toScalar(value, what) {
  if (value === null || value === undefined) return { tag: "null" };
  switch (typeof value) {
    case "boolean":
      return { tag: "boolean", val: value };
    case "string":
      return { tag: "string", val: value };
    case "number":
      return Number.isSafeInteger(value) ? { tag: "int", val: value } : { tag: "float", val: value };
    case "bigint":
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new DataError(`${what()}: ${value} is outside ±2^53, which the QuickJS bindings carry exactly`);
      }
      return { tag: "int", val: Number(value) };
  }
  throw new DataError(`${what()}: offsets hold only null, booleans, numbers and strings, not ${typeof value}`);
}

/** WIT `offset-map` → plain object. */
export function fromOffsetMap(map) {
  if (map === null || map === undefined) return null;
  const out = {};
  for (const [key, scalar] of map) {
    out[key] = scalar.tag === "null" ? null : typeof scalar.val === "bigint" ? Number(scalar.val) : scalar.val;
  }
  return out;
}
