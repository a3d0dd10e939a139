// wasm-connect's JavaScript SDK: write a source or sink connector as two classes, export them
// with `defineSource`/`defineSink`, and build a component with `guest-sdk/js/build.sh`.
export { Connector, SourceConnector, SinkConnector, SourceTask, SinkTask, defineSource, defineSink } from "./connector.js";
export { Config, ConfigDef, ConfigType, Importance, Width, Validator } from "./config.js";
export { Schema, SchemaBuilder, Struct, Type, Logical } from "./data.js";
export { ConnectorError, InvalidConfigError, RetriableError, FatalError, DataError } from "./errors.js";
export { log, context, offsetStorageReader, sourceContext, sinkContext, errantRecordReporter } from "./host.js";
export * as fs from "./fs.js";
export { toPlain } from "./data.js";
