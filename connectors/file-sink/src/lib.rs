//! `file-sink`: Kafka's `FileStreamSinkConnector` as a component. This file is only the WIT
//! glue; the connector lives in `connector.rs` and the task in `task.rs`, tested natively.

mod connector;
mod task;

pub use connector::{FileStreamSink, config_def};
pub use task::FileStreamSinkTask;

wasm_connect_sdk::export_sink_connector!(FileStreamSink, FileStreamSinkTask);
