//! `test-source-v2`: `test-source` compiled again under version 0.2.0 (its `version()` is this
//! crate's version), so tests can install two versions of the class `TestSource` side by side,
//! pin one with `connector.plugin.version` and upgrade to the other.

#[allow(dead_code)] // Shared with test-sink, which uses the checking half.
#[path = "../../test-source/src/every_type.rs"]
pub mod every_type;
#[path = "../../test-source/src/hostile.rs"]
mod hostile;
#[path = "../../test-source/src/modes.rs"]
mod modes;

pub use modes::{Mode, TestSource, TestSourceTask};

wasm_connect_sdk::export_source_connector!(TestSource, TestSourceTask);
