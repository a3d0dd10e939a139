//! `test-source`: a deliberately misbehaving source for the host's integration tests. This
//! file is the WIT glue; the behaviour lives in `modes.rs` and the every-type record in
//! `every_type.rs` (shared with `test-sink`).

#[allow(dead_code)] // Shared with test-sink, which uses the checking half.
pub mod every_type;
mod hostile;
mod modes;

pub use modes::{Mode, TestSource, TestSourceTask};

wasm_connect_sdk::export_source_connector!(TestSource, TestSourceTask);
