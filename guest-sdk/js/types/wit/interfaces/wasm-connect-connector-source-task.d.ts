/// <reference path="./wasm-connect-connector-types.d.ts" />
declare module 'wasm-connect:connector/source-task@0.1.0' {
  /**
   * Starts the task with the configuration `connector.task-configs` produced for it.
   * Called once per instance, before anything else. An error fails the task.
   */
  export function start(config: Config): TaskOptions;
  /**
   * Returns the next records. Called in a loop while the task runs; an empty batch means
   * "nothing now" and the host backs off briefly. Should not block for long: the host
   * stops or pauses the task only between calls, and a call that exceeds the sandbox's
   * time limit fails the task. `retriable` errors are retried, others fail the task.
   */
  export function poll(): SourceBatch;
  /**
   * Called after the host durably stored the source offsets of acknowledged records
   * (every `offset.flush.interval.ms` and at shutdown). An error is logged only.
   */
  export function commit(): void;
  /**
   * Kafka Connect's `commitRecord`, batched: the records acknowledged by the log (or
   * dropped) since the last call, in the order they were polled, with the schemas their
   * keys, values and headers refer to. Called only if `start` asked for it. An error is
   * logged only.
   */
  export function commitRecords(batch: CommittedBatch): void;
  /**
   * Stops the task. Called once, between other calls; the instance is dropped afterwards.
   */
  export function stop(): void;
  export type Config = import('wasm-connect:connector/types@0.1.0').Config;
  export type ConnectorError = import('wasm-connect:connector/types@0.1.0').ConnectorError;
  export type Data = import('wasm-connect:connector/types@0.1.0').Data;
  export type Header = import('wasm-connect:connector/types@0.1.0').Header;
  export type OffsetMap = import('wasm-connect:connector/types@0.1.0').OffsetMap;
  export type Schema = import('wasm-connect:connector/types@0.1.0').Schema;
  /**
   * A record to write to the log.
   */
  export interface SourceRecord {
    /**
     * Where the record comes from in the external system, e.g. `[("filename", "a.txt")]`:
     * an index into the batch's `source-partitions`.
     */
    sourcePartition: number,
    /**
     * How far into that partition this record is, e.g. `[("position", 1024)]`.
     * The host stores it once the log acknowledged the record (and every earlier one).
     */
    sourceOffset: OffsetMap,
    /**
     * The topic: an index into the batch's `topics`.
     */
    topic: number,
    /**
     * The log partition; none lets the host's partitioner choose (by key hash).
     */
    partition?: number,
    /**
     * The key; none is a null key without schema.
     */
    key?: Data,
    /**
     * The value; none is a null value without schema (a tombstone).
     */
    value?: Data,
    /**
     * Milliseconds since the epoch; none lets the log assign one.
     */
    timestamp?: bigint,
    headers: Array<Header>,
  }
  /**
   * What one `poll` returns.
   */
  export interface SourceBatch {
    /**
     * The schemas the records refer to by index. Each schema is defined once per batch,
     * however many records use it.
     */
    schemas: Array<Schema>,
    /**
     * The topics the records refer to by index. Records of one topic share an entry, so
     * the name crosses the boundary once per batch rather than once per record.
     */
    topics: Array<string>,
    /**
     * The source partitions the records refer to by index, shared the same way. A value
     * may be listed more than once, but neither table may have more entries than the
     * batch has records: the host fails the task otherwise.
     */
    sourcePartitions: Array<OffsetMap>,
    records: Array<SourceRecord>,
    /**
     * More records, after those in `records`, as one JSON text. Python and JavaScript
     * guests write a batch with their runtime's native JSON encoder in one call instead
     * of building about a dozen binding objects per record. None, or an empty text, adds
     * nothing.
     * 
     * The text is an array with one array per record, the fields of `source-record` in
     * order: `[source-partition, source-offset, topic, partition, key, value, timestamp,
     * headers]`. `source-partition` and `topic` index the batch's tables; `source-offset`
     * is an object of null, boolean, number (an integer is `int`, any other number
     * `float`) and string values; `partition` and `timestamp` are integers or null; `key`
     * and `value` are null (none) or `[schema, value]` with `schema` an index into
     * `schemas` or null; `headers` is an array of `[key, schema, value]`.
     * 
     * A value with a schema has the JSON form its type implies: integers and booleans as
     * themselves, floats as numbers or the strings `"NaN"`, `"Infinity"` and
     * `"-Infinity"`, strings as strings, bytes (and `Decimal`) as standard base64, an
     * array as an array, a map as an array of `[key, value]` pairs, a struct as an array
     * of its field values in field order, and null as null. A schemaless value is null,
     * a boolean, a number (an integer is `int64`, any other number `float64`), a string,
     * an array of schemaless values, `{"bytes": base64}` or `{"map": [[key, value], ...]}`.
     * The host checks every value against its schema, as for `records`.
     */
    recordsJson?: string,
  }
  /**
   * Where the log put a record, as Kafka Connect's `RecordMetadata`.
   */
  export interface RecordMetadata {
    topic: string,
    partition: number,
    offset: bigint,
    timestamp?: bigint,
  }
  /**
   * A polled record the host has finished with.
   */
  export interface CommittedRecord {
    record: SourceRecord,
    /**
     * Where it was written; none when a transform dropped it or it was skipped under
     * `errors.tolerance=all`.
     */
    metadata?: RecordMetadata,
  }
  /**
   * What one `commit-records` call carries.
   */
  export interface CommittedBatch {
    /**
     * The schemas the records refer to by index. Each schema is defined once per call,
     * however many records use it, as in `source-batch`.
     */
    schemas: Array<Schema>,
    /**
     * The topics the records refer to by index, as in `source-batch`.
     */
    topics: Array<string>,
    /**
     * The source partitions the records refer to by index, as in `source-batch`.
     */
    sourcePartitions: Array<OffsetMap>,
    records: Array<CommittedRecord>,
  }
  /**
   * How the task wants to be driven, returned by `start`.
   */
  export interface TaskOptions {
    /**
     * Whether the host should call `commit-records`. Costs a copy of every record back
     * into the task, so leave it off unless the task acknowledges records upstream.
     */
    wantsCommitRecords: boolean,
  }
}
