//! `http-source`: polls REST endpoints, follows a cursor in each response, and keeps the
//! cursor as the source offset of the endpoint. Only the WIT glue lives here; the settings
//! are in `settings.rs`, the connector and task in `task.rs`.

mod settings;
mod task;

pub use settings::{Settings, config_def};
pub use task::{HttpSource, HttpSourceTask, Page, parse_page};

wasm_connect_sdk::export_source_connector!(HttpSource, HttpSourceTask);
