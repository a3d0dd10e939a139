declare module 'wasm-connect:connector/errant-record-reporter@0.1.0' {
  /**
   * Reports a record of the current or previous `put` batch, named by its original topic,
   * partition and offset, with the error that made it unprocessable. Fails if the record
   * is unknown, or if `errors.tolerance` is `none` (then the task fails too, as in Kafka
   * Connect).
   */
  export function report(topic: string, partition: number, offset: bigint, error: string): ReportId;
  /**
   * Where one report stands. Returns at once.
   */
  export function status(id: ReportId): ReportStatus;
  /**
   * Waits until every report made so far is written or failed, up to the host's timeout.
   * Returns the first failure, if any.
   */
  export function flush(): void;
  /**
   * A handle for one report.
   */
  export type ReportId = bigint;
  /**
   * Where a report stands.
   */
  export type ReportStatus = ReportStatusPending | ReportStatusWritten | ReportStatusFailed;
  /**
   * Not yet durably written.
   */
  export interface ReportStatusPending {
    tag: 'pending',
  }
  /**
   * Durably written to the dead letter queue (or logged, if no queue is configured).
   */
  export interface ReportStatusWritten {
    tag: 'written',
  }
  /**
   * Could not be written; the message says why.
   */
  export interface ReportStatusFailed {
    tag: 'failed',
    val: string,
  }
}
