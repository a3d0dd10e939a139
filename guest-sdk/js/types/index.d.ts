// TypeScript declarations of the wasm-connect JavaScript SDK (`import ... from "wasm-connect-sdk"`).
// The raw WIT contract the SDK implements is in `./wit/` (generated from `wit/` by
// `scripts/gen-types.mjs`; note that the QuickJS bindings carry WIT `s64` as `number`, not
// the `bigint` those files say).

/// <reference path="./wit/source-connector.d.ts" />
/// <reference path="./wit/sink-connector.d.ts" />

declare module "wasm-connect-sdk" {
  // ---- errors ----
  export class ConnectorError extends Error {
    /** The WIT `connector-error` case this error becomes. */
    readonly kind: "invalid-config" | "retriable" | "fatal";
  }
  export class InvalidConfigError extends ConnectorError {}
  export class RetriableError extends ConnectorError {}
  export class FatalError extends ConnectorError {}
  export class DataError extends FatalError {}

  // ---- configuration ----
  export type ConfigTypeName = "boolean" | "string" | "int" | "short" | "long" | "double" | "list" | "class" | "password";
  export const ConfigType: {
    readonly BOOLEAN: "boolean"; readonly STRING: "string"; readonly INT: "int"; readonly SHORT: "short";
    readonly LONG: "long"; readonly DOUBLE: "double"; readonly LIST: "list"; readonly CLASS: "class"; readonly PASSWORD: "password";
  };
  export const Importance: { readonly HIGH: "high"; readonly MEDIUM: "medium"; readonly LOW: "low" };
  export const Width: { readonly NONE: "none"; readonly SHORT: "short"; readonly MEDIUM: "medium"; readonly LONG: "long" };
  export type Validator =
    | { tag: "range"; val: { min: number | null; max: number | null } }
    | { tag: "valid-string"; val: string[] }
    | { tag: "non-empty-string" };
  export const Validator: {
    range(min: number | null, max: number | null): Validator;
    atLeast(min: number): Validator;
    between(min: number, max: number): Validator;
    oneOf(...values: (string | string[])[]): Validator;
    nonEmptyString(): Validator;
  };
  export interface DefineOptions {
    /** Omit for a required setting. */
    default?: string | number | boolean | string[];
    importance?: "high" | "medium" | "low";
    doc?: string;
    group?: string;
    orderInGroup?: number;
    width?: "none" | "short" | "medium" | "long";
    displayName?: string;
    dependents?: string[];
    validator?: Validator;
    recommendedValues?: string[];
  }
  /** Kafka Connect's `ConfigValue`. */
  export interface ConfigValue {
    name: string;
    value: string | null;
    recommendedValues: string[];
    errors: string[];
    visible: boolean;
  }
  export type ConfigInput = Config | [string, string][] | Map<string, string> | Record<string, string | number | boolean>;
  export class ConfigDef {
    define(name: string, type: ConfigTypeName, options?: DefineOptions): this;
    key(name: string): import("wasm-connect:connector/config-def@0.1.0").ConfigKey | undefined;
    validate(config: ConfigInput): ConfigValue[];
    /** Throws an `InvalidConfigError` listing every problem. */
    check(config: ConfigInput): void;
    parse(pairs: ConfigInput): Config;
  }
  export class Config {
    constructor(pairs?: ConfigInput, def?: ConfigDef | null);
    get(key: string): string | undefined;
    has(key: string): boolean;
    set(key: string, value: unknown): this;
    pairs(): [string, string][];
    toObject(): Record<string, string>;
    getString(key: string, fallback?: string): string;
    getPassword(key: string, fallback?: string): string;
    getInt(key: string, fallback?: number): number;
    getLong(key: string, fallback?: number): number;
    getDouble(key: string, fallback?: number): number;
    getBoolean(key: string, fallback?: boolean): boolean;
    getList(key: string, fallback?: string[]): string[];
  }

  // ---- data ----
  export type SchemaType = "int8" | "int16" | "int32" | "int64" | "float32" | "float64" | "boolean" | "string" | "bytes" | "array" | "map" | "struct";
  export const Type: { readonly [K in Uppercase<SchemaType>]: Lowercase<K> };
  export class Schema {
    readonly type: SchemaType;
    readonly optional: boolean;
    readonly name: string | null;
    readonly version: number | null;
    readonly doc: string | null;
    readonly parameters: Readonly<Record<string, string>>;
    readonly defaultValue: unknown;
    readonly valueSchema: Schema | null;
    readonly keySchema: Schema | null;
    readonly fields: readonly { name: string; schema: Schema }[];
    field(name: string): { name: string; schema: Schema } | undefined;
    static readonly INT8: Schema; static readonly INT16: Schema; static readonly INT32: Schema; static readonly INT64: Schema;
    static readonly FLOAT32: Schema; static readonly FLOAT64: Schema; static readonly BOOLEAN: Schema; static readonly STRING: Schema;
    static readonly BYTES: Schema;
    static readonly OPTIONAL_INT8: Schema; static readonly OPTIONAL_INT16: Schema; static readonly OPTIONAL_INT32: Schema;
    static readonly OPTIONAL_INT64: Schema; static readonly OPTIONAL_FLOAT32: Schema; static readonly OPTIONAL_FLOAT64: Schema;
    static readonly OPTIONAL_BOOLEAN: Schema; static readonly OPTIONAL_STRING: Schema; static readonly OPTIONAL_BYTES: Schema;
  }
  export class SchemaBuilder {
    static int8(): SchemaBuilder; static int16(): SchemaBuilder; static int32(): SchemaBuilder; static int64(): SchemaBuilder;
    static float32(): SchemaBuilder; static float64(): SchemaBuilder; static bool(): SchemaBuilder; static string(): SchemaBuilder;
    static bytes(): SchemaBuilder; static struct(): SchemaBuilder;
    static array(valueSchema: Schema): SchemaBuilder;
    static map(keySchema: Schema, valueSchema: Schema): SchemaBuilder;
    optional(): this; name(name: string): this; version(version: number): this; doc(doc: string): this;
    parameter(key: string, value: unknown): this; defaultValue(value: unknown): this;
    field(name: string, schema: Schema | SchemaBuilder): this;
    build(): Schema;
  }
  export const Logical: {
    readonly TIMESTAMP: string; readonly DATE: string; readonly TIME: string; readonly DECIMAL: string;
    timestamp(): SchemaBuilder; date(): SchemaBuilder; time(): SchemaBuilder; decimal(scale: number): SchemaBuilder;
  };
  export interface Decimal { unscaled: bigint; scale: number }
  export class Struct {
    constructor(schema: Schema, values?: Record<string, unknown>);
    readonly schema: Schema;
    put(name: string, value: unknown): this;
    get(name: string): unknown;
    toJSON(): Record<string, unknown>;
  }

  // ---- records ----
  /** Source partitions and offsets: objects of primitives. */
  export type OffsetObject = Record<string, null | boolean | number | string>;
  export interface Header { key: string; value: unknown; schema?: Schema | null }
  export interface SourceRecord {
    sourcePartition: OffsetObject;
    sourceOffset: OffsetObject;
    topic: string;
    partition?: number | null;
    key?: unknown;
    keySchema?: Schema | null;
    value?: unknown;
    valueSchema?: Schema | null;
    /** Milliseconds since the epoch, or a Date. */
    timestamp?: number | Date | null;
    headers?: Header[];
  }
  export interface RecordMetadata { topic: string; partition: number; offset: number; timestamp?: number | null }
  export interface SinkRecord {
    topic: string;
    partition: number;
    offset: number;
    key: unknown;
    keySchema: Schema | null;
    value: unknown;
    valueSchema: Schema | null;
    timestamp: number | null;
    timestampType: "no-timestamp-type" | "create-time" | "log-append-time";
    headers: { key: string; value: unknown; schema: Schema | null }[];
    originalTopic: string;
    originalPartition: number;
    originalOffset: number;
  }
  export interface TopicPartition { topic: string; partition: number }
  export interface TopicPartitionOffset { topic: string; partition: number; offset: number }

  // ---- connectors and tasks ----
  export abstract class Connector {
    static className: string;
    static description: string;
    static aliases: string[];
    static version: string;
    static configDef: ConfigDef;
    static validate(config: Config): ConfigValue[];
    config?: Config;
    start(config: Config): void;
    taskConfigs(maxTasks: number): ConfigInput[];
    stop(): void;
  }
  export abstract class SourceConnector extends Connector {}
  export abstract class SinkConnector extends Connector {}
  export abstract class SourceTask {
    start(config: Config): void | { wantsCommitRecords?: boolean };
    poll(): SourceRecord[] | null | undefined;
    commit(): void;
    commitRecord(record: SourceRecord, metadata: RecordMetadata | null): void;
    stop(): void;
  }
  export abstract class SinkTask {
    start(config: Config): void;
    open(partitions: TopicPartition[]): void;
    put(records: SinkRecord[]): void;
    flush(offsets: TopicPartitionOffset[]): void;
    preCommit(offsets: TopicPartitionOffset[]): TopicPartitionOffset[];
    close(partitions: TopicPartition[]): void;
    stop(): void;
  }
  export interface Definition { readonly kind: "source" | "sink"; readonly connector: Function; readonly task: Function }
  export function defineSource(connector: new () => SourceConnector, task: new () => SourceTask): Definition;
  export function defineSink(connector: new () => SinkConnector, task: new () => SinkTask): Definition;

  /** A decoded value as JSON-friendly data: structs and maps → objects, dates → ISO strings. */
  export function toPlain(value: unknown): unknown;

  // ---- files in granted directories (sandbox.fs.read / sandbox.fs.write) ----
  export namespace fs {
    class File {
      readonly path: string;
      append(data: string | Uint8Array): void;
      size(): number;
      truncate(size: number): void;
      sync(): void;
      close(): void;
    }
    function openAppend(path: string): File;
    function readBytes(path: string): Uint8Array | null;
    function readText(path: string): string | null;
    /** Not atomic: a crash part-way leaves the file empty or half-written. */
    function writeFile(path: string, data: string | Uint8Array): void;
    /** Atomic: after a crash the file holds its old content or `data`, never a mix. */
    function replaceFile(path: string, data: string | Uint8Array): void;
    function exists(path: string): boolean;
    function list(path: string): string[];
    function mkdir(path: string): void;
    function remove(path: string): void;
    function utf8Encode(text: string): Uint8Array;
    function utf8Decode(bytes: Uint8Array): string;
  }

  // ---- host imports ----
  export const log: {
    trace(...args: unknown[]): void; debug(...args: unknown[]): void; info(...args: unknown[]): void;
    warn(...args: unknown[]): void; error(...args: unknown[]): void;
  };
  export const context: { requestTaskReconfiguration(): void; raiseError(message: string): void };
  export const offsetStorageReader: {
    offset(partition: OffsetObject): OffsetObject | null;
    offsets(partitions: OffsetObject[]): (OffsetObject | null)[];
  };
  export const sourceContext: {
    /** Beyond Kafka Connect: no records for `milliseconds` (null: never); see the README. */
    pollAgainAfter(milliseconds: number | null): void;
  };
  export const sinkContext: {
    assignment(): TopicPartition[];
    resetOffsets(offsets: TopicPartitionOffset[]): void;
    pause(partitions: TopicPartition[]): void;
    resume(partitions: TopicPartition[]): void;
    requestCommit(): void;
    timeout(milliseconds: number): void;
  };
  export const errantRecordReporter: {
    report(record: SinkRecord, error: unknown): number;
    status(id: number): "pending" | "written" | { failed: string };
    flush(): void;
  };
}
