// The Connect data model: schemas, structs and logical types, and their encoding as the flat
// node tables of `wit/types.wit` (a batch carries each schema once; a value is a tree of nodes
// whose root is node 0 and whose children come after their parent).
//
// JavaScript values by schema type:
//   int8/int16/int32/float32/float64 → number; int64 → number (or a safe-integer bigint when
//   sending); boolean; string; bytes → Uint8Array; array → Array; map → Map (a plain object is
//   accepted when sending); struct → Struct (a plain object is accepted when sending).
//   Logical types: Timestamp/Date/Time ↔ Date (numbers are accepted when sending),
//   Decimal ↔ { unscaled: bigint, scale } or a Uint8Array of the two's-complement unscaled value.

import { DataError } from "./errors.js";

/** The schema types, exactly Kafka Connect's `Schema.Type` (and the WIT `schema-type`). */
export const Type = Object.freeze({
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FLOAT32: "float32",
  FLOAT64: "float64",
  BOOLEAN: "boolean",
  STRING: "string",
  BYTES: "bytes",
  ARRAY: "array",
  MAP: "map",
  STRUCT: "struct",
});
const TYPES = new Set(Object.values(Type));
const INT_RANGES = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
};
const MAX_DEPTH = 64;

/** An immutable Connect schema. Build one with `SchemaBuilder` or use the constants. */
export class Schema {
  constructor(spec) {
    if (!TYPES.has(spec.type)) throw new DataError(`unknown schema type \`${spec.type}\``);
    this.type = spec.type;
    this.optional = !!spec.optional;
    this.name = spec.name ?? null;
    this.version = spec.version ?? null;
    this.doc = spec.doc ?? null;
    this.parameters = Object.freeze({ ...(spec.parameters ?? {}) });
    this.defaultValue = spec.defaultValue === undefined ? undefined : spec.defaultValue;
    this.valueSchema = spec.valueSchema ?? null;
    this.keySchema = spec.keySchema ?? null;
    this.fields = Object.freeze((spec.fields ?? []).map((f) => Object.freeze({ name: f.name, schema: f.schema })));
    if (this.type === Type.ARRAY && !this.valueSchema) throw new DataError("an array schema needs a value schema");
    if (this.type === Type.MAP && !(this.keySchema && this.valueSchema)) {
      throw new DataError("a map schema needs a key schema and a value schema");
    }
    /** Field name → field, for struct schemas. */
    this.fieldIndex = new Map();
    for (const field of this.fields) {
      if (this.fieldIndex.has(field.name)) throw new DataError(`duplicate field \`${field.name}\` in struct ${this.name ?? ""}`);
      this.fieldIndex.set(field.name, field);
    }
    Object.freeze(this);
  }

  /** The field named `name` of a struct schema, or undefined. */
  field(name) {
    return this.fieldIndex.get(name);
  }

}

function primitive(type, optional) {
  return new Schema({ type, optional });
}
for (const type of ["int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes"]) {
  const upper = type.toUpperCase();
  Schema[`${upper}`] = primitive(type, false);
  Schema[`OPTIONAL_${upper}`] = primitive(type, true);
}

/** Fluent construction of schemas, like Kafka Connect's `SchemaBuilder`. */
export class SchemaBuilder {
  constructor(type) {
    this.spec = { type, optional: false, fields: [], parameters: {} };
  }
  static int8() { return new SchemaBuilder(Type.INT8); }
  static int16() { return new SchemaBuilder(Type.INT16); }
  static int32() { return new SchemaBuilder(Type.INT32); }
  static int64() { return new SchemaBuilder(Type.INT64); }
  static float32() { return new SchemaBuilder(Type.FLOAT32); }
  static float64() { return new SchemaBuilder(Type.FLOAT64); }
  static bool() { return new SchemaBuilder(Type.BOOLEAN); }
  static string() { return new SchemaBuilder(Type.STRING); }
  static bytes() { return new SchemaBuilder(Type.BYTES); }
  static struct() { return new SchemaBuilder(Type.STRUCT); }
  static array(valueSchema) {
    const b = new SchemaBuilder(Type.ARRAY);
    b.spec.valueSchema = valueSchema;
    return b;
  }
  static map(keySchema, valueSchema) {
    const b = new SchemaBuilder(Type.MAP);
    b.spec.keySchema = keySchema;
    b.spec.valueSchema = valueSchema;
    return b;
  }
  optional() { this.spec.optional = true; return this; }
  name(name) { this.spec.name = name; return this; }
  version(version) { this.spec.version = version; return this; }
  doc(doc) { this.spec.doc = doc; return this; }
  parameter(key, value) { this.spec.parameters[key] = String(value); return this; }
  defaultValue(value) { this.spec.defaultValue = value; return this; }
  /** Adds a struct field. */
  field(name, schema) {
    if (this.spec.type !== Type.STRUCT) throw new DataError(`field \`${name}\` added to a ${this.spec.type} schema`);
    this.spec.fields.push({ name, schema: schema instanceof SchemaBuilder ? schema.build() : schema });
    return this;
  }
  build() {
    const schema = new Schema(this.spec);
    if (schema.defaultValue !== undefined) {
      // Fail at build time, not when the first record is sent.
      try {
        encodeValue(schema, schema.defaultValue, []);
      } catch (error) {
        throw located(error, "default value");
      }
    }
    return schema;
  }
}

/** Kafka Connect's logical types. */
export const Logical = Object.freeze({
  TIMESTAMP: "org.apache.kafka.connect.data.Timestamp",
  DATE: "org.apache.kafka.connect.data.Date",
  TIME: "org.apache.kafka.connect.data.Time",
  DECIMAL: "org.apache.kafka.connect.data.Decimal",
  /** Milliseconds since the epoch (int64); values are `Date`s. */
  timestamp: () => SchemaBuilder.int64().name("org.apache.kafka.connect.data.Timestamp").version(1),
  /** Days since the epoch (int32); values are `Date`s at midnight UTC. */
  date: () => SchemaBuilder.int32().name("org.apache.kafka.connect.data.Date").version(1),
  /** Milliseconds since midnight (int32); values are `Date`s on 1970-01-01 UTC. */
  time: () => SchemaBuilder.int32().name("org.apache.kafka.connect.data.Time").version(1),
  /** An arbitrary-precision decimal with a fixed `scale` (bytes). */
  decimal: (scale) =>
    SchemaBuilder.bytes().name("org.apache.kafka.connect.data.Decimal").version(1).parameter("scale", scale),
});

const MS_PER_DAY = 86_400_000;

/** A struct value: field values checked against the struct's schema, like Connect's `Struct`. */
export class Struct {
  constructor(schema, values) {
    if (!(schema instanceof Schema) || schema.type !== Type.STRUCT) {
      throw new DataError("a Struct needs a struct schema");
    }
    this.schema = schema;
    this.values = new Map();
    if (values) for (const [name, value] of Object.entries(values)) this.put(name, value);
  }
  /** Sets a field; throws a `DataError` naming the field if it does not exist. */
  put(name, value) {
    if (!this.schema.field(name)) {
      throw new DataError(`struct ${this.schema.name ?? "(unnamed)"} has no field \`${name}\``);
    }
    this.values.set(name, value);
    return this;
  }
  /** A field's value (its schema default, or null, when unset). */
  get(name) {
    const field = this.schema.field(name);
    if (!field) throw new DataError(`struct ${this.schema.name ?? "(unnamed)"} has no field \`${name}\``);
    if (this.values.has(name)) return this.values.get(name);
    return field.schema.defaultValue ?? null;
  }
  /** The fields as a plain object (nested structs too), e.g. for `JSON.stringify`. */
  toJSON() {
    const out = {};
    for (const field of this.schema.fields) out[field.name] = this.get(field.name);
    return out;
  }
}

/**
 * A decoded value as plain JSON-friendly data: structs and maps become objects, dates ISO
 * strings, bytes arrays of numbers, decimals strings. For `JSON.stringify`.
 */
export function toPlain(value) {
  if (value === null || value === undefined) return null;
  if (value instanceof Struct) {
    const out = {};
    for (const field of value.schema.fields) out[field.name] = toPlain(value.get(field.name));
    return out;
  }
  if (value instanceof Map) {
    const out = {};
    for (const [k, v] of value) out[String(k)] = toPlain(v);
    return out;
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (typeof value === "object" && typeof value.unscaled === "bigint") {
    const digits = (value.unscaled < 0n ? -value.unscaled : value.unscaled).toString().padStart(value.scale + 1, "0");
    const text = value.scale > 0 ? `${digits.slice(0, -value.scale)}.${digits.slice(-value.scale)}` : digits;
    return value.unscaled < 0n ? `-${text}` : text;
  }
  if (typeof value === "bigint") return Number(value);
  return value;
}

// ---- encoding (guest → host) ----

/**
 * Collects the schemas of one batch: each distinct schema object is written once, with its
 * nested schemas after it.
 */
export class SchemaTable {
  constructor() {
    this.nodes = [];
    this.roots = new Map();
  }
  /** The table index of `schema`, writing it on first use. */
  index(schema) {
    let at = this.roots.get(schema);
    if (at === undefined) {
      at = this.write(schema, 0);
      this.roots.set(schema, at);
    }
    return at;
  }
  write(schema, depth) {
    if (!(schema instanceof Schema)) throw new DataError(`expected a Schema, got ${typeName(schema)}`);
    if (depth > MAX_DEPTH) throw new DataError(`schema nested deeper than ${MAX_DEPTH}`);
    const at = this.nodes.length;
    const node = {
      type: schema.type,
      optional: schema.optional,
      name: schema.name,
      version: schema.version,
      doc: schema.doc,
      parameters: Object.entries(schema.parameters),
      defaultValue: null,
      valueSchema: null,
      keySchema: null,
      fields: [],
    };
    this.nodes.push(node);
    if (schema.defaultValue !== undefined && schema.defaultValue !== null) {
      const nodes = [];
      try {
        encodeValue(schema, schema.defaultValue, nodes);
      } catch (error) {
        throw located(error, "default value");
      }
      node.defaultValue = nodes;
    }
    if (schema.keySchema) node.keySchema = this.write(schema.keySchema, depth + 1);
    if (schema.valueSchema) node.valueSchema = this.write(schema.valueSchema, depth + 1);
    for (const field of schema.fields) {
      node.fields.push({ name: field.name, schema: this.write(field.schema, depth + 1) });
    }
    return at;
  }
}

/**
 * A key, value or header value as the WIT `data`: `schema` may be null (schemaless: the type
 * follows the JavaScript value). `what` names the value in errors (a string, or a function
 * giving one, called only on error).
 */
export function encodeData(schema, value, table, what) {
  const nodes = [];
  try {
    if (schema) {
      encodeValue(schema, value, nodes, 0);
      return { schema: table.index(schema), value: dataValue(nodes) };
    }
    encodeSchemaless(value, nodes, 0);
    return { schema: null, value: dataValue(nodes) };
  } catch (error) {
    // An empty `what` leaves locating to the caller.
    throw what === "" ? error : located(error, what);
  }
}

/**
 * The WIT `data-value` of encoded nodes: a primitive crosses as itself (a `value-node` and a
 * `data-value` case of the same name look alike), anything else as a tree.
 */
function dataValue(nodes) {
  if (nodes.length === 1 && !CONTAINER_TAGS.has(nodes[0].tag)) return nodes[0];
  return { tag: "tree", val: nodes };
}
const CONTAINER_TAGS = new Set(["array", "map", "struct"]);

/**
 * Errors raised while encoding carry the path inside the value (`.field`, `[3]`) in `path`,
 * built while the error unwinds, so the common case builds no strings at all.
 */
function invalid(message) {
  const error = new DataError(message);
  error.path = "";
  return error;
}
function within(error, segment) {
  if (error instanceof DataError && typeof error.path === "string") error.path = segment + error.path;
  return error;
}
/** The final error: `<what><path>: <reason>`. */
export function located(error, what) {
  if (!(error instanceof DataError) || typeof error.path !== "string") return error;
  const name = typeof what === "function" ? what() : what;
  const out = new DataError(`${name}${error.path}: ${error.message}`);
  out.path = null;
  return out;
}

function typeName(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "a Uint8Array";
  if (typeof value === "object") return value.constructor?.name ? `a ${value.constructor.name}` : "an object";
  return `a ${typeof value}`;
}

function toSafeInteger(value) {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "bigint") {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw invalid(`${value} is outside the safe integer range the QuickJS bindings carry (±2^53)`);
    }
    return Number(value);
  }
  throw invalid(`expected an integer, got ${typeName(value)} (${String(value)})`);
}

function logicalToNumber(schema, value) {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw invalid("invalid Date");
    if (schema.name === Logical.DATE) {
      if (ms % MS_PER_DAY !== 0) throw invalid("a Date value must be midnight UTC");
      return ms / MS_PER_DAY;
    }
    if (schema.name === Logical.TIME) return ((ms % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    return ms;
  }
  return value;
}

function decimalBytes(value, scale) {
  if (value instanceof Uint8Array) return value;
  if (value && typeof value === "object" && typeof value.unscaled === "bigint") {
    if (value.scale !== undefined && value.scale !== scale) {
      throw invalid(`decimal scale ${value.scale} does not match the schema's scale ${scale}`);
    }
    let n = value.unscaled;
    const bytes = [];
    // Big-endian two's complement, minimal length.
    for (;;) {
      const byte = Number(BigInt.asUintN(8, n));
      bytes.unshift(byte);
      n >>= 8n;
      if ((n === 0n && (byte & 0x80) === 0) || (n === -1n && (byte & 0x80) !== 0)) break;
    }
    return new Uint8Array(bytes);
  }
  throw invalid("a Decimal value is { unscaled: bigint, scale } or a Uint8Array");
}

/** Appends the value tree of `value` under `schema` to `nodes`; returns the root's index. */
export function encodeValue(schema, value, nodes, depth = 0) {
  if (depth > MAX_DEPTH) throw invalid(`value nested deeper than ${MAX_DEPTH}`);
  const at = nodes.length;
  if (value === undefined || value === null) {
    if (schema.defaultValue !== undefined && schema.defaultValue !== null) {
      return encodeValue(schema, schema.defaultValue, nodes, depth);
    }
    if (!schema.optional) throw invalid(`null for a required ${schema.type} schema`);
    nodes.push({ tag: "null" });
    return at;
  }
  if (schema.name !== null) {
    if (schema.name === Logical.DECIMAL) {
      nodes.push({ tag: "bytes", val: decimalBytes(value, Number(schema.parameters.scale)) });
      return at;
    }
    value = logicalToNumber(schema, value);
  }
  switch (schema.type) {
    case "int8":
    case "int16":
    case "int32": {
      const n = toSafeInteger(value);
      const [min, max] = INT_RANGES[schema.type];
      if (n < min || n > max) throw invalid(`${n} does not fit ${schema.type}`);
      nodes.push({ tag: schema.type, val: n });
      return at;
    }
    case "int64":
      nodes.push({ tag: "int64", val: toSafeInteger(value) });
      return at;
    case "float32":
    case "float64":
      if (typeof value !== "number") throw invalid(`expected a number, got ${typeName(value)}`);
      nodes.push({ tag: schema.type, val: value });
      return at;
    case "boolean":
      if (typeof value !== "boolean") throw invalid(`expected a boolean, got ${typeName(value)}`);
      nodes.push({ tag: "boolean", val: value });
      return at;
    case "string":
      if (typeof value !== "string") throw invalid(`expected a string, got ${typeName(value)}`);
      nodes.push({ tag: "string", val: value });
      return at;
    case "bytes":
      if (!(value instanceof Uint8Array)) throw invalid(`expected a Uint8Array, got ${typeName(value)}`);
      nodes.push({ tag: "bytes", val: value });
      return at;
    case "array": {
      if (!Array.isArray(value)) throw invalid(`expected an array, got ${typeName(value)}`);
      const node = { tag: "array", val: [] };
      nodes.push(node);
      for (let i = 0; i < value.length; i++) {
        try {
          node.val.push(encodeValue(schema.valueSchema, value[i], nodes, depth + 1));
        } catch (error) {
          throw within(error, `[${i}]`);
        }
      }
      return at;
    }
    case "map": {
      const entries = value instanceof Map ? [...value] : isPlainObject(value) ? Object.entries(value) : null;
      if (!entries) throw invalid(`expected a Map or an object, got ${typeName(value)}`);
      const node = { tag: "map", val: [] };
      nodes.push(node);
      for (const [k, v] of entries) {
        let key;
        try {
          key = encodeValue(schema.keySchema, k, nodes, depth + 1);
        } catch (error) {
          throw within(error, " key");
        }
        try {
          node.val.push([key, encodeValue(schema.valueSchema, v, nodes, depth + 1)]);
        } catch (error) {
          throw within(error, `[${String(k)}]`);
        }
      }
      return at;
    }
    case "struct": {
      let values;
      if (value instanceof Struct) {
        if (value.schema !== schema && !sameFields(value.schema, schema)) {
          throw invalid(`struct of schema ${value.schema.name ?? "(unnamed)"} where ${schema.name ?? "(unnamed)"} is expected`);
        }
        values = value.values;
      } else if (isPlainObject(value)) {
        for (const name in value) {
          if (!schema.fieldIndex.has(name)) throw invalid(`struct ${schema.name ?? "(unnamed)"} has no field \`${name}\``);
        }
        values = null;
      } else {
        throw invalid(`expected a Struct or an object, got ${typeName(value)}`);
      }
      const node = { tag: "struct", val: [] };
      nodes.push(node);
      const fields = schema.fields;
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i];
        try {
          node.val.push(encodeValue(field.schema, values ? values.get(field.name) : value[field.name], nodes, depth + 1));
        } catch (error) {
          throw within(error, `.${field.name}`);
        }
      }
      return at;
    }
  }
  throw invalid(`unknown schema type ${schema.type}`);
}

function sameFields(a, b) {
  return a.fields.length === b.fields.length && a.fields.every((f, i) => f.name === b.fields[i].name);
}

function isPlainObject(value) {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function encodeSchemaless(value, nodes, depth) {
  if (depth > MAX_DEPTH) throw invalid(`value nested deeper than ${MAX_DEPTH}`);
  const at = nodes.length;
  if (value === null || value === undefined) nodes.push({ tag: "null" });
  else if (typeof value === "boolean") nodes.push({ tag: "boolean", val: value });
  else if (typeof value === "string") nodes.push({ tag: "string", val: value });
  else if (typeof value === "bigint") nodes.push({ tag: "int64", val: toSafeInteger(value) });
  else if (typeof value === "number") {
    nodes.push(Number.isSafeInteger(value) ? { tag: "int64", val: value } : { tag: "float64", val: value });
  } else if (value instanceof Uint8Array) nodes.push({ tag: "bytes", val: value });
  else if (value instanceof Date) nodes.push({ tag: "int64", val: value.getTime() });
  else if (Array.isArray(value)) {
    const node = { tag: "array", val: [] };
    nodes.push(node);
    for (let i = 0; i < value.length; i++) {
      try {
        node.val.push(encodeSchemaless(value[i], nodes, depth + 1));
      } catch (error) {
        throw within(error, `[${i}]`);
      }
    }
  } else if (value instanceof Struct) {
    throw invalid("a Struct needs its schema: set the record's key/value schema");
  } else if (value instanceof Map || isPlainObject(value)) {
    const node = { tag: "map", val: [] };
    nodes.push(node);
    for (const [k, v] of value instanceof Map ? value : Object.entries(value)) {
      try {
        const key = encodeSchemaless(k, nodes, depth + 1);
        node.val.push([key, encodeSchemaless(v, nodes, depth + 1)]);
      } catch (error) {
        throw within(error, `[${String(k)}]`);
      }
    }
  } else {
    throw invalid(`cannot send ${typeName(value)} without a schema`);
  }
  return at;
}

// ---- JSON values (guest → host, `source-batch.records-json`) ----
//
// A poll's plain records can cross as one JSON text, written by the engine's native
// `JSON.stringify` in one call instead of about a dozen binding objects per record (the forms
// are in wit/source-task.wit). Anything these functions are not sure of throws `SLOW`, and the
// batch then goes as WIT records, whose encoding checks and names every problem.

/** Thrown when a value needs the WIT form. */
export const SLOW = Object.freeze({ slow: true });

function toBase64(bytes) {
  if (typeof bytes.toBase64 === "function") return bytes.toBase64();
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** A number or safe-integer bigint as a safe integer, or `SLOW`. */
function jsonInteger(value) {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return value;
  } else if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) {
    return Number(value);
  }
  throw SLOW;
}

/** The JSON form of a value of `schema` (the WIT encoding's rules, as `encodeValue`). */
export function jsonValue(schema, value, depth) {
  if (depth > MAX_DEPTH) throw SLOW;
  if (value === undefined || value === null) {
    if (schema.defaultValue !== undefined && schema.defaultValue !== null) return jsonValue(schema, schema.defaultValue, depth);
    if (!schema.optional) throw SLOW;
    return null;
  }
  if (schema.name !== null) {
    if (schema.name === Logical.DECIMAL) return toBase64(decimalBytes(value, Number(schema.parameters.scale)));
    value = logicalToNumber(schema, value);
  }
  switch (schema.type) {
    case "int8":
    case "int16":
    case "int32": {
      const n = jsonInteger(value);
      const [min, max] = INT_RANGES[schema.type];
      if (n < min || n > max) throw SLOW;
      return n;
    }
    case "int64":
      return jsonInteger(value);
    case "float32":
    case "float64":
      if (typeof value !== "number") throw SLOW;
      if (Number.isFinite(value)) return value;
      return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    case "boolean":
      if (typeof value !== "boolean") throw SLOW;
      return value;
    case "string":
      if (typeof value !== "string") throw SLOW;
      return value;
    case "bytes":
      if (!(value instanceof Uint8Array)) throw SLOW;
      return toBase64(value);
    case "array": {
      if (!Array.isArray(value)) throw SLOW;
      const out = new Array(value.length);
      for (let i = 0; i < value.length; i++) out[i] = jsonValue(schema.valueSchema, value[i], depth + 1);
      return out;
    }
    case "map": {
      const entries = value instanceof Map ? value : isPlainObject(value) ? Object.entries(value) : null;
      if (!entries) throw SLOW;
      const out = [];
      for (const [k, v] of entries) out.push([jsonValue(schema.keySchema, k, depth + 1), jsonValue(schema.valueSchema, v, depth + 1)]);
      return out;
    }
    case "struct": {
      const fields = schema.fields;
      const out = new Array(fields.length);
      if (value instanceof Struct) {
        if (value.schema !== schema && !sameFields(value.schema, schema)) throw SLOW;
        const values = value.values;
        for (let i = 0; i < fields.length; i++) out[i] = jsonValue(fields[i].schema, values.get(fields[i].name), depth + 1);
        return out;
      }
      if (!isPlainObject(value)) throw SLOW;
      for (const name in value) if (!schema.fieldIndex.has(name)) throw SLOW;
      for (let i = 0; i < fields.length; i++) out[i] = jsonValue(fields[i].schema, value[fields[i].name], depth + 1);
      return out;
    }
  }
  throw SLOW;
}

const JSON_ENCODERS = new WeakMap();

/**
 * The JSON encoder of `schema`, compiled once per schema object: `jsonValue`'s rules, with a
 * struct's fields written out as one generated function that checks each field's plain type
 * inline (a safe integer in range, a string, a boolean, a finite number, a `Date` for a
 * Timestamp) and calls `jsonValue` only for anything else; a call per field is most of the
 * cost in QuickJS. Field names are passed as values, never written into the code.
 */
export function jsonEncoder(schema) {
  let encode = JSON_ENCODERS.get(schema);
  if (encode === undefined) {
    encode = compileJson(schema);
    JSON_ENCODERS.set(schema, encode);
  }
  return encode;
}

const INLINE_FIELDS_MAX = 64;

function compileJson(schema) {
  const fields = schema.fields;
  const plainStruct = schema.type === "struct" && fields.length <= INLINE_FIELDS_MAX && (schema.defaultValue === undefined || schema.defaultValue === null);
  if (!plainStruct) return (value) => jsonValue(schema, value, 0);
  const lines = [];
  const checks = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i].schema;
    const v = `v${i}`;
    lines.push(`let ${v} = get(names[${i}]);`);
    let fast = null;
    if (f.name === Logical.TIMESTAMP) fast = `${v} instanceof Date ? ${v}.getTime() : null`;
    else if (f.name === null) {
      switch (f.type) {
        case "int8":
        case "int16":
        case "int32":
          fast = `typeof ${v} === "number" && ${v} >= ${INT_RANGES[f.type][0]} && ${v} <= ${INT_RANGES[f.type][1]} && Number.isInteger(${v}) ? ${v} : null`;
          break;
        case "int64":
          fast = `typeof ${v} === "number" && Number.isSafeInteger(${v}) ? ${v} : null`;
          break;
        case "float32":
        case "float64":
          fast = `typeof ${v} === "number" && Number.isFinite(${v}) ? ${v} : null`;
          break;
        case "string":
          fast = `typeof ${v} === "string" ? ${v} : null`;
          break;
        case "boolean":
          fast = `typeof ${v} === "boolean" ? ${v} : null`;
          break;
      }
    }
    // The fast form is null only when it did not apply (a null value takes jsonValue too,
    // which applies the default or the optional check).
    // (`j !== j`: an invalid Date's NaN, which jsonValue reports.)
    if (fast) lines.push(`let j${i} = ${fast}; if (j${i} === null || j${i} !== j${i}) j${i} = jsonValue(schemas[${i}], ${v}, 1);`);
    else lines.push(`const j${i} = jsonValue(schemas[${i}], ${v}, 1);`);
    checks.push(`j${i}`);
  }
  const body = [
    "return function structure(value) {",
    "  let get;",
    "  if (value instanceof Struct) {",
    "    if (value.schema !== schema && !sameFields(value.schema, schema)) throw SLOW;",
    "    const values = value.values;",
    "    get = (name) => values.get(name);",
    "  } else if (isPlainObject(value)) {",
    "    for (const name in value) if (!schema.fieldIndex.has(name)) throw SLOW;",
    "    get = (name) => value[name];",
    "  } else if ((value === null || value === undefined) && schema.optional) {",
    "    return null;",
    "  } else {",
    "    throw SLOW;",
    "  }",
    ...lines.map((l) => "  " + l),
    `  return [${checks.join(", ")}];`,
    "};",
  ].join("\n");
  const make = new Function("schema", "names", "schemas", "Struct", "SLOW", "sameFields", "isPlainObject", "jsonValue", body);
  return make(schema, fields.map((f) => f.name), fields.map((f) => f.schema), Struct, SLOW, sameFields, isPlainObject, jsonValue);
}

/** The JSON form of a schemaless value (the WIT encoding's rules, as `encodeSchemaless`). */
export function jsonSchemaless(value, depth) {
  if (depth > MAX_DEPTH) throw SLOW;
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "boolean":
    case "string":
      return value;
    case "bigint":
      return jsonInteger(value);
    case "number":
      // A safe integer is an int64, any other finite number a float64; JSON writes a
      // non-integer with a point or an exponent, so the host reads it back as a float.
      if (Number.isSafeInteger(value) || (Number.isFinite(value) && !Number.isInteger(value))) return value;
      throw SLOW;
  }
  if (value instanceof Uint8Array) return { bytes: toBase64(value) };
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw SLOW;
    return ms;
  }
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = jsonSchemaless(value[i], depth + 1);
    return out;
  }
  if (value instanceof Map || isPlainObject(value)) {
    const out = [];
    for (const [k, v] of value instanceof Map ? value : Object.entries(value)) out.push([jsonSchemaless(k, depth + 1), jsonSchemaless(v, depth + 1)]);
    return { map: out };
  }
  throw SLOW;
}

// ---- decoding (host → guest) ----

/** Turns a batch's WIT schema table into `Schema` objects (lazily, each index once). */
export class SchemaReader {
  constructor(nodes) {
    this.nodes = nodes ?? [];
    this.cache = new Map();
  }
  get(index, depth = 0) {
    const cached = this.cache.get(index);
    if (cached) return cached;
    const node = this.nodes[index];
    if (!node) throw new DataError(`schema index ${index} is outside the batch's ${this.nodes.length} schemas`);
    if (depth > MAX_DEPTH) throw new DataError(`schema nested deeper than ${MAX_DEPTH}`);
    const child = (i) => {
      if (i <= index) throw new DataError(`schema ${index} refers to ${i}, which is not after it`);
      return this.get(i, depth + 1);
    };
    const spec = {
      type: node.type,
      optional: node.optional,
      name: node.name ?? null,
      version: node.version ?? null,
      doc: node.doc ?? null,
      parameters: Object.fromEntries(node.parameters ?? []),
      valueSchema: node.valueSchema == null ? null : child(node.valueSchema),
      keySchema: node.keySchema == null ? null : child(node.keySchema),
      fields: (node.fields ?? []).map((f) => ({ name: f.name, schema: child(f.schema) })),
    };
    // Default values are decoded against the schema they belong to.
    const bare = new Schema(spec);
    if (node.defaultValue) spec.defaultValue = decodeValue(bare, node.defaultValue);
    const schema = node.defaultValue ? new Schema(spec) : bare;
    this.cache.set(index, schema);
    return schema;
  }
}

/** A WIT `data` as `{ schema, value }` (schema null when schemaless). */
export function decodeData(data, reader) {
  if (!data) return { schema: null, value: null };
  const schema = data.schema == null ? null : reader.get(data.schema);
  const v = data.value;
  return { schema, value: v.tag === "tree" ? decodeValue(schema, v.val) : decodeLeaf(schema, v) };
}

/** Decodes a value tree (root node 0) against `schema` (or schemaless when null). */
export function decodeValue(schema, nodes) {
  if (!nodes || nodes.length === 0) throw new DataError("empty value tree");
  const node = (i, parent) => {
    if (!(i > parent && i < nodes.length)) throw new DataError(`value node ${parent} refers to ${i}, which is not after it`);
    return i;
  };
  const visit = (s, i, depth) => {
    if (depth > MAX_DEPTH) throw new DataError(`value nested deeper than ${MAX_DEPTH}`);
    const n = nodes[i];
    switch (n.tag) {
      case "null":
        return null;
      case "array":
        return n.val.map((c) => visit(s ? s.valueSchema : null, node(c, i), depth + 1));
      case "map": {
        const out = new Map();
        for (const [k, v] of n.val) {
          out.set(visit(s ? s.keySchema : null, node(k, i), depth + 1), visit(s ? s.valueSchema : null, node(v, i), depth + 1));
        }
        return out;
      }
      case "struct": {
        if (!s || s.type !== "struct") throw new DataError("a struct value without a struct schema");
        if (n.val.length !== s.fields.length) throw new DataError(`struct value has ${n.val.length} fields, its schema ${s.fields.length}`);
        const struct = new Struct(s);
        s.fields.forEach((f, k) => struct.put(f.name, visit(f.schema, node(n.val[k], i), depth + 1)));
        return struct;
      }
      default:
        return decodeLeaf(s, n);
    }
  };
  return visit(schema, 0, 0);
}

/** A primitive node (or `data-value` case) against its schema: logical types become objects. */
function decodeLeaf(s, n) {
  switch (n.tag) {
    case "null":
      return null;
    case "bytes": {
      const bytes = n.val instanceof Uint8Array ? n.val : Uint8Array.from(n.val);
      if (s && s.name === Logical.DECIMAL) return { unscaled: unscaledOf(bytes), scale: Number(s.parameters.scale) };
      return bytes;
    }
    case "boolean":
    case "int8":
    case "int16":
    case "int32":
    case "int64":
    case "float32":
    case "float64":
    case "string": {
      const v = typeof n.val === "bigint" ? Number(n.val) : n.val;
      if (s && s.name === Logical.TIMESTAMP) return new Date(v);
      if (s && s.name === Logical.DATE) return new Date(v * MS_PER_DAY);
      if (s && s.name === Logical.TIME) return new Date(v);
      return v;
    }
    default:
      throw new DataError(`unknown value kind ${JSON.stringify(n.tag)}`);
  }
}

function unscaledOf(bytes) {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  if (bytes.length && bytes[0] & 0x80) n -= 1n << BigInt(bytes.length * 8);
  return n;
}
