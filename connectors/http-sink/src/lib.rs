//! `http-sink`: POSTs batches of records as a JSON array to an HTTP endpoint, retries
//! retriable failures (429, 5xx, connection errors) with backoff, and reports records the
//! endpoint rejects (other 4xx) to the errant record reporter. Only the WIT glue lives here;
//! the settings are in `settings.rs`, the connector and task in `task.rs`.

mod settings;
mod task;

pub use settings::{Settings, config_def};
pub use task::{HttpSink, HttpSinkTask, record_json};

wasm_connect_sdk::export_sink_connector!(HttpSink, HttpSinkTask);
