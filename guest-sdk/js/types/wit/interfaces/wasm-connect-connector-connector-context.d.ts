declare module 'wasm-connect:connector/connector-context@0.1.0' {
  /**
   * Asks the host to call `connector.task-configs` again and restart the tasks if their
   * configurations changed (e.g. the connector found new tables to copy). Returns at
   * once; the reconfiguration happens asynchronously. From a task, it is forwarded to
   * the task's connector.
   */
  export function requestTaskReconfiguration(): void;
  /**
   * Fails the calling connector (or task) with `message` as its trace, as Kafka Connect's
   * `raiseError`. The host stops calling the instance.
   */
  export function raiseError(message: string): void;
}
