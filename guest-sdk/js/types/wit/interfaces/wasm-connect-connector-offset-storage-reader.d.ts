/// <reference path="./wasm-connect-connector-types.d.ts" />
declare module 'wasm-connect:connector/offset-storage-reader@0.1.0' {
  /**
   * The last committed offset of one source partition of this connector, or none.
   */
  export function offset(partition: OffsetMap): OffsetMap | undefined;
  /**
   * The last committed offsets of several partitions, in the order asked for.
   */
  export function offsets(partitions: Array<OffsetMap>): Array<OffsetMap | undefined>;
  export type OffsetMap = import('wasm-connect:connector/types@0.1.0').OffsetMap;
}
