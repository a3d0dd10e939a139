//! `file-source`: Kafka's `FileStreamSourceConnector` as a component. This file is only the WIT
//! glue; the connector lives in `connector.rs`, the task in `task.rs` and the line reading in
//! `reader.rs`, all tested natively.

mod connector;
mod reader;
mod task;

pub use connector::{FileStreamSource, config_def};
pub use reader::LineReader;
pub use task::FileStreamSourceTask;

wasm_connect_sdk::export_source_connector!(FileStreamSource, FileStreamSourceTask);
