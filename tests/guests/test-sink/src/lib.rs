//! `test-sink`: a deliberately configurable sink for the host's integration tests. This file is
//! the WIT glue; the behaviour lives in `modes.rs`, and the every-type record comes from
//! test-source's `every_type.rs`, included here so both build the exact same value.

#[allow(dead_code)] // Shared with test-source, which uses the building half.
#[path = "../../test-source/src/every_type.rs"]
pub mod every_type;
mod modes;

pub use modes::{Mode, TestSink, TestSinkTask};

wasm_connect_sdk::export_sink_connector!(TestSink, TestSinkTask);
