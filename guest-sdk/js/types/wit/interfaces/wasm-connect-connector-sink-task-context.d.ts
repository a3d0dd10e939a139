/// <reference path="./wasm-connect-connector-types.d.ts" />
declare module 'wasm-connect:connector/sink-task-context@0.1.0' {
  /**
   * The partitions currently assigned to this task.
   */
  export function assignment(): Array<TopicPartition>;
  /**
   * Rewinds (or forwards) consumption of these partitions to the given offsets, for tasks
   * that keep their own offsets in the target system. Takes effect before the next `put`.
   */
  export function resetOffsets(offsets: Array<TopicPartitionOffset>): void;
  /**
   * Stops delivering records from these partitions until `resume`.
   */
  export function pause(partitions: Array<TopicPartition>): void;
  /**
   * Delivers records from these partitions again.
   */
  export function resume(partitions: Array<TopicPartition>): void;
  /**
   * Asks for an offset commit (`pre-commit`) as soon as possible.
   */
  export function requestCommit(): void;
  /**
   * How long to wait before redelivering a batch after `put` returned `retriable`.
   */
  export function timeout(milliseconds: bigint): void;
  export type TopicPartition = import('wasm-connect:connector/types@0.1.0').TopicPartition;
  export type TopicPartitionOffset = import('wasm-connect:connector/types@0.1.0').TopicPartitionOffset;
}
