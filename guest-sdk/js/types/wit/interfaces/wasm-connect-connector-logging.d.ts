/// <reference path="./wasm-connect-connector-types.d.ts" />
declare module 'wasm-connect:connector/logging@0.1.0' {
  /**
   * Writes a log line attributed to the calling connector or task. The host may drop or
   * truncate lines from a guest that logs too much.
   */
  export function log(level: Level, message: string): void;
  export type Level = import('wasm-connect:connector/types@0.1.0').Level;
}
