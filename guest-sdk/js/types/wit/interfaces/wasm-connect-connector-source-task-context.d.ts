declare module 'wasm-connect:connector/source-task-context@0.1.0' {
  /**
   * Beyond Kafka Connect: says this task will have no records for `milliseconds`. A Java
   * source task blocks in `poll` until it has records (e.g. sleeps until its next poll
   * interval); a component's `poll` must return, and this is how it waits without being
   * called. After a `poll` that returned no records, the host calls `poll` again once
   * `milliseconds` passed, instead of backing off on its own (50 ms, doubling up to
   * `source.idle.backoff.max.ms`); a stop, pause or resume still takes effect at once.
   * `18446744073709551615` (the largest value) waits until one of those; less than 1 ms
   * counts as 1 ms. Only the last call during a `poll` counts, and only if that `poll`
   * returned no records; calls anywhere else do nothing.
   */
  export function pollAgainAfter(milliseconds: bigint): void;
}
