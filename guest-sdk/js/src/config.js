// Settings: `ConfigDef` (what the host renders in `/connector-plugins/{plugin}/config` and
// uses for `/validate`, Kafka Connect's `ConfigDef`) and `Config`, the string settings a
// connector or task receives, with typed getters that fall back to the `ConfigDef` defaults.

import { InvalidConfigError } from "./errors.js";

/** Setting types, as Kafka Connect's `ConfigDef.Type`. */
export const ConfigType = Object.freeze({
  BOOLEAN: "boolean",
  STRING: "string",
  INT: "int",
  SHORT: "short",
  LONG: "long",
  DOUBLE: "double",
  LIST: "list",
  CLASS: "class",
  PASSWORD: "password",
});
export const Importance = Object.freeze({ HIGH: "high", MEDIUM: "medium", LOW: "low" });
export const Width = Object.freeze({ NONE: "none", SHORT: "short", MEDIUM: "medium", LONG: "long" });

/** Checks applied by the host before `validate` and `start`, and by the default `validate`. */
export const Validator = Object.freeze({
  /** A number within [min, max]; either bound may be null. */
  range: (min, max) => ({ tag: "range", val: { min: min ?? null, max: max ?? null } }),
  atLeast: (min) => ({ tag: "range", val: { min, max: null } }),
  between: (min, max) => ({ tag: "range", val: { min, max } }),
  /** One of these strings (case-insensitive). */
  oneOf: (...values) => ({ tag: "valid-string", val: values.flat().map(String) }),
  nonEmptyString: () => ({ tag: "non-empty-string" }),
});

const INTEGER = /^[+-]?\d+$/;
const INT_RANGES = { int: [-(2 ** 31), 2 ** 31 - 1], short: [-(2 ** 15), 2 ** 15 - 1], long: [-(2 ** 63), 2 ** 63 - 1] };

function typeError(type, value) {
  switch (type) {
    case "boolean":
      return /^(true|false)$/i.test(value.trim()) ? null : "Expected value to be either true or false";
    case "int":
    case "short":
    case "long": {
      const v = value.trim();
      if (!INTEGER.test(v)) return `Expected value to be a ${type === "long" ? "64" : type === "int" ? "32" : "16"}-bit integer, but it was a non-integer`;
      const n = Number(v);
      const [min, max] = INT_RANGES[type];
      return n < min || n > max ? `Value is out of range for ${type.toUpperCase()}` : null;
    }
    case "double":
      return value.trim() !== "" && Number.isFinite(Number(value.trim())) ? null : "Expected value to be a number";
    default:
      return null;
  }
}

function formatBound(n) {
  return Number.isInteger(n) ? String(n) : String(n);
}

function validatorError(validator, value) {
  switch (validator.tag) {
    case "range": {
      const n = Number(value.trim());
      if (value.trim() === "" || Number.isNaN(n)) return "Value must be a number";
      if (validator.val.min != null && n < validator.val.min) return `Value must be at least ${formatBound(validator.val.min)}`;
      if (validator.val.max != null && n > validator.val.max) return `Value must be no more than ${formatBound(validator.val.max)}`;
      return null;
    }
    case "valid-string":
      return validator.val.some((v) => v.toLowerCase() === value.trim().toLowerCase())
        ? null
        : `String must be one of: ${validator.val.join(", ")}`;
    case "non-empty-string":
      return value.trim() === "" ? "String may not be empty" : null;
  }
  return null;
}

/** A connector's settings, as Kafka Connect's `ConfigDef`. */
export class ConfigDef {
  constructor() {
    this.keys = [];
  }

  /**
   * Adds a setting. `options`: `default` (any value, stored as a string; omit for a required
   * setting), `importance`, `doc`, `group`, `orderInGroup`, `width`, `displayName`,
   * `dependents`, `validator` (see `Validator`), `recommendedValues`.
   */
  define(name, type, options = {}) {
    if (!Object.values(ConfigType).includes(type)) {
      throw new Error(`setting \`${name}\`: unknown type \`${type}\` (use ConfigType.*)`);
    }
    if (this.key(name)) throw new Error(`setting \`${name}\` is defined twice`);
    const key = {
      name,
      type,
      defaultValue: options.default === undefined || options.default === null ? null : defaultString(options.default),
      importance: options.importance ?? Importance.MEDIUM,
      documentation: options.doc ?? "",
      group: options.group ?? null,
      orderInGroup: options.orderInGroup ?? 0,
      width: options.width ?? Width.NONE,
      displayName: options.displayName ?? name,
      dependents: options.dependents ?? [],
      validator: options.validator ?? null,
      recommendedValues:
        options.recommendedValues ?? (options.validator?.tag === "valid-string" ? [...options.validator.val] : []),
    };
    this.keys.push(key);
    return this;
  }

  /** The key named `name`, or undefined. */
  key(name) {
    return this.keys.find((k) => k.name === name);
  }

  /** One `ConfigValue` per key: missing required settings, malformed values, failed validators. */
  validate(config) {
    const pairs = config instanceof Config ? config : new Config(config);
    return this.keys.map((key) => {
      const given = pairs.get(key.name);
      const value = given ?? key.defaultValue;
      const errors = [];
      if (value === undefined || value === null) {
        errors.push(`Missing required configuration "${key.name}" which has no default value.`);
      } else {
        const problem = typeError(key.type, value) ?? (key.validator ? validatorError(key.validator, value) : null);
        if (problem) errors.push(`Invalid value ${value} for configuration ${key.name}: ${problem}`);
      }
      return {
        name: key.name,
        value: given ?? null,
        recommendedValues: key.recommendedValues,
        errors,
        visible: true,
      };
    });
  }

  /** Throws an `InvalidConfigError` listing every problem `validate` finds. */
  check(config) {
    const problems = this.validate(config).flatMap((v) => v.errors);
    if (problems.length) throw new InvalidConfigError(problems.join("; "));
  }

  /** A `Config` over `pairs` whose getters fall back to this definition's defaults. */
  parse(pairs) {
    this.check(pairs);
    return new Config(pairs instanceof Config ? pairs.pairs() : pairs, this);
  }
}

function defaultString(value) {
  return Array.isArray(value) ? value.join(",") : String(value);
}

/**
 * String settings, as the host passes them (the WIT `config`: a list of key/value pairs).
 * Getters throw `InvalidConfigError` naming the setting when it is missing or malformed.
 */
export class Config {
  /** `pairs`: an array of `[key, value]`, a Map, or a plain object. */
  constructor(pairs = [], def = null) {
    const entries = pairs instanceof Map ? [...pairs] : Array.isArray(pairs) ? pairs : Object.entries(pairs);
    this.map = new Map(entries.map(([k, v]) => [String(k), String(v)]));
    this.def = def;
  }
  /** The raw value, or the `ConfigDef` default, or undefined. */
  get(key) {
    if (this.map.has(key)) return this.map.get(key);
    const d = this.def?.key(key)?.defaultValue;
    return d ?? undefined;
  }
  has(key) {
    return this.map.has(key);
  }
  set(key, value) {
    this.map.set(key, String(value));
    return this;
  }
  /** `[key, value]` pairs, as the WIT `config`. */
  pairs() {
    return [...this.map];
  }
  /** The settings as a plain object. */
  toObject() {
    return Object.fromEntries(this.map);
  }
  raw(key, fallback) {
    const v = this.get(key);
    if (v !== undefined) return v;
    if (fallback !== undefined) return undefined;
    throw new InvalidConfigError(`missing required setting \`${key}\``);
  }
  getString(key, fallback) {
    return this.raw(key, fallback) ?? fallback;
  }
  getPassword(key, fallback) {
    return this.getString(key, fallback);
  }
  getInt(key, fallback) {
    const v = this.raw(key, fallback);
    if (v === undefined) return fallback;
    if (!INTEGER.test(v.trim())) throw new InvalidConfigError(`setting \`${key}\` must be an integer, got \`${v}\``);
    return Number(v.trim());
  }
  getLong(key, fallback) {
    return this.getInt(key, fallback);
  }
  getDouble(key, fallback) {
    const v = this.raw(key, fallback);
    if (v === undefined) return fallback;
    const n = Number(v.trim());
    if (v.trim() === "" || Number.isNaN(n)) throw new InvalidConfigError(`setting \`${key}\` must be a number, got \`${v}\``);
    return n;
  }
  getBoolean(key, fallback) {
    const v = this.raw(key, fallback);
    if (v === undefined) return fallback;
    if (/^true$/i.test(v.trim())) return true;
    if (/^false$/i.test(v.trim())) return false;
    throw new InvalidConfigError(`setting \`${key}\` must be \`true\` or \`false\`, got \`${v}\``);
  }
  /** A comma-separated list, items trimmed; an empty string is an empty list. */
  getList(key, fallback) {
    const v = this.raw(key, fallback);
    if (v === undefined) return fallback;
    return v.trim() === "" ? [] : v.split(",").map((s) => s.trim());
  }
}
