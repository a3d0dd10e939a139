/// <reference path="./wasm-connect-connector-types.d.ts" />
declare module 'wasm-connect:connector/sink-task@0.1.0' {
  /**
   * Starts the task with its configuration. Called once per instance, before anything
   * else. An error fails the task.
   */
  export function start(config: Config): void;
  /**
   * Partitions newly assigned to this task. Called before records from them are put.
   */
  export function open(partitions: Array<TopicPartition>): void;
  /**
   * Delivers records. A `retriable` error makes the host deliver the same batch again
   * (after `sink-task-context.timeout`, if set); any other error fails the task.
   */
  export function put(batch: SinkBatch): void;
  /**
   * Kafka Connect's `preCommit`: `offsets` are the next offsets to read per partition, for
   * everything put so far. Return the offsets that are safe to commit (those durably
   * written by the task); an empty list commits nothing. SDKs implement Kafka Connect's
   * default (flush, then return `offsets`) on top of a `flush` method. Called every
   * `offset.flush.interval.ms`, on `request-commit`, and before `close` and `stop`.
   * An error is logged and the consumer rewinds to the last committed offsets.
   */
  export function preCommit(offsets: Array<TopicPartitionOffset>): Array<TopicPartitionOffset>;
  /**
   * Partitions taken away from this task (rebalance or shutdown), after a final
   * `pre-commit`. An error is logged only.
   */
  export function close(partitions: Array<TopicPartition>): void;
  /**
   * Stops the task. Called once, after the last `put` and commit; the instance is dropped
   * afterwards.
   */
  export function stop(): void;
  export type Config = import('wasm-connect:connector/types@0.1.0').Config;
  export type ConnectorError = import('wasm-connect:connector/types@0.1.0').ConnectorError;
  export type Data = import('wasm-connect:connector/types@0.1.0').Data;
  export type Header = import('wasm-connect:connector/types@0.1.0').Header;
  export type Schema = import('wasm-connect:connector/types@0.1.0').Schema;
  export type TopicPartition = import('wasm-connect:connector/types@0.1.0').TopicPartition;
  export type TopicPartitionOffset = import('wasm-connect:connector/types@0.1.0').TopicPartitionOffset;
  /**
   * # Variants
   * 
   * ## `"no-timestamp-type"`
   * 
   * ## `"create-time"`
   * 
   * ## `"log-append-time"`
   */
  export type TimestampType = 'no-timestamp-type' | 'create-time' | 'log-append-time';
  /**
   * A record read from the log.
   */
  export interface SinkRecord {
    /**
     * Topic (an index into the batch's `topics`), partition and offset after transforms
     * (transforms may rename the topic).
     */
    topic: number,
    partition: number,
    offset: bigint,
    key?: Data,
    value?: Data,
    timestamp?: bigint,
    timestampType: TimestampType,
    /**
     * How many headers the record has: its headers are the next `header-count` of the
     * batch's `headers`, after those of the records before it.
     */
    headerCount: number,
    /**
     * Where the record really is in the log, before any transform: use these with the
     * errant record reporter and in `pre-commit`. `original-topic` is an index into the
     * batch's `topics`.
     */
    originalTopic: number,
    originalPartition: number,
    originalOffset: bigint,
  }
  /**
   * What one `put` delivers.
   */
  export interface SinkBatch {
    /**
     * The schemas the records refer to by index, each defined once per batch.
     */
    schemas: Array<Schema>,
    /**
     * The topics the records refer to by index, each named once per batch.
     */
    topics: Array<string>,
    /**
     * Every record's headers, in record order (see `sink-record.header-count`): one list
     * per batch, so a record without headers costs nothing here.
     */
    headers: Array<Header>,
    records: Array<SinkRecord>,
  }
}
