/// <reference path="./interfaces/wasm-connect-connector-config-def.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-connector-context.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-connector.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-logging.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-network.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-offset-storage-reader.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-source-task-context.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-source-task.d.ts" />
/// <reference path="./interfaces/wasm-connect-connector-types.d.ts" />
declare module 'wasm-connect:connector/source-connector@0.1.0' {
  export type * as WasmConnectConnectorConfigDef010 from 'wasm-connect:connector/config-def@0.1.0'; // import wasm-connect:connector/config-def@0.1.0
  export type * as WasmConnectConnectorConnectorContext010 from 'wasm-connect:connector/connector-context@0.1.0'; // import wasm-connect:connector/connector-context@0.1.0
  export type * as WasmConnectConnectorLogging010 from 'wasm-connect:connector/logging@0.1.0'; // import wasm-connect:connector/logging@0.1.0
  export type * as WasmConnectConnectorNetwork010 from 'wasm-connect:connector/network@0.1.0'; // import wasm-connect:connector/network@0.1.0
  export type * as WasmConnectConnectorOffsetStorageReader010 from 'wasm-connect:connector/offset-storage-reader@0.1.0'; // import wasm-connect:connector/offset-storage-reader@0.1.0
  export type * as WasmConnectConnectorSourceTaskContext010 from 'wasm-connect:connector/source-task-context@0.1.0'; // import wasm-connect:connector/source-task-context@0.1.0
  export type * as WasmConnectConnectorTypes010 from 'wasm-connect:connector/types@0.1.0'; // import wasm-connect:connector/types@0.1.0
  export * as connector from 'wasm-connect:connector/connector@0.1.0'; // export wasm-connect:connector/connector@0.1.0
  export * as sourceTask from 'wasm-connect:connector/source-task@0.1.0'; // export wasm-connect:connector/source-task@0.1.0
}
