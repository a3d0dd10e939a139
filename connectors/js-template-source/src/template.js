// The generator behind JsTemplateSource: compiles the `template` expression and the `schema`
// field list, and produces the record of any sequence number. Pure: no host calls, so the same
// sequence number always gives the same record (the random helpers are seeded by `seed` and
// the sequence number), which makes a resumed task continue exactly where it stopped.

import { InvalidConfigError, FatalError, Logical, Schema, SchemaBuilder } from "wasm-connect-sdk";

const FIELD_TYPES = {
  int32: () => SchemaBuilder.int32(),
  int64: () => SchemaBuilder.int64(),
  float64: () => SchemaBuilder.float64(),
  double: () => SchemaBuilder.float64(),
  string: () => SchemaBuilder.string(),
  boolean: () => SchemaBuilder.bool(),
  timestamp: () => Logical.timestamp(),
};

/**
 * `"id:int64, name:string, note:string?"` → a struct schema named `name` (`?` marks an optional
 * field); an empty spec → null (schemaless values).
 */
export function parseSchema(spec, name) {
  if (spec.trim() === "") return null;
  const builder = SchemaBuilder.struct().name(name);
  const seen = new Set();
  for (const part of spec.split(",")) {
    const match = part.trim().match(/^([A-Za-z_][\w.]*)\s*:\s*([a-z0-9]+)(\?)?$/);
    if (!match) {
      throw new InvalidConfigError(`schema: \`${part.trim()}\` is not \`field:type\` (types: ${Object.keys(FIELD_TYPES).join(", ")}; add ? for optional)`);
    }
    const [, field, type, optional] = match;
    const make = FIELD_TYPES[type];
    if (!make) throw new InvalidConfigError(`schema: field \`${field}\` has unknown type \`${type}\` (types: ${Object.keys(FIELD_TYPES).join(", ")})`);
    if (seen.has(field)) throw new InvalidConfigError(`schema: field \`${field}\` appears twice`);
    seen.add(field);
    const fieldSchema = make();
    if (optional) fieldSchema.optional();
    builder.field(field, fieldSchema.build());
  }
  return builder.build();
}

/** Compiles `template`, a JavaScript expression over `seq`, `rand`, `int`, `pick` and `now`. */
export function compileTemplate(template) {
  if (template.trim() === "") throw new InvalidConfigError("template: the expression is empty");
  try {
    // The sandbox is the component: the expression sees only these parameters and globals.
    return new Function("seq", "rand", "int", "pick", "now", `"use strict"; return (${template}\n);`);
  } catch (error) {
    throw new InvalidConfigError(`template: ${error.message}`);
  }
}

// mulberry32 over a hash of (seed, seq): small, fast, and the same for the same inputs.
function random(seed, seq) {
  let a = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seq + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Generator {
  /** `options`: template, schema (a Schema or null), seed, keyField (or ""). */
  constructor({ template, schema, seed, keyField }) {
    this.fn = compileTemplate(template);
    this.schema = schema;
    this.seed = seed | 0;
    this.keyField = keyField;
    if (keyField && schema && !schema.field(keyField)) {
      throw new InvalidConfigError(`key.field: \`${keyField}\` is not a field of the schema`);
    }
  }

  /** The key and value of record `seq`. Errors thrown by the template carry its message. */
  record(seq, now) {
    const rand = random(this.seed, seq);
    const int = (min, max) => min + Math.floor(rand() * (max - min + 1));
    const pick = (values) => values[Math.floor(rand() * values.length)];
    let value;
    try {
      value = this.fn(seq, rand, int, pick, now);
    } catch (error) {
      throw new FatalError(`template threw for seq ${seq}: ${error?.message ?? error}`, { cause: error });
    }
    if (this.schema && (value === null || typeof value !== "object" || Array.isArray(value))) {
      throw new FatalError(`template returned ${JSON.stringify(value)} for seq ${seq}; with a schema it must return an object with the schema's fields`);
    }
    let key = null;
    if (this.keyField) {
      const k = value?.[this.keyField];
      key = k === undefined || k === null ? null : String(k);
    }
    return { key, keySchema: key === null ? null : Schema.STRING, value };
  }
}
