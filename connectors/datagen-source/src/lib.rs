//! `datagen-source`: generates records for tests and benchmarks. This file is only the WIT
//! glue; the connector lives in `connector.rs`, the settings in `settings.rs` and the
//! generator in `generator.rs`, all tested natively.

mod connector;
mod generator;
mod settings;

pub use connector::{DatagenSource, DatagenTask};
pub use generator::Generator;
pub use settings::{KeyShape, Settings, ValueShape, config_def};

wasm_connect_sdk::export_source_connector!(DatagenSource, DatagenTask);
