//! The Rust SDK for wasm-connect connectors: write a Kafka Connect-style source or sink
//! connector in plain Rust and build it into a WebAssembly component with
//! `cargo build --target wasm32-wasip2`.
//!
//! You implement two traits and export them with one macro:
//!
//! - a source: [`SourceConnector`] + [`SourceTask`], exported with [`export_source_connector!`];
//! - a sink: [`SinkConnector`] + [`SinkTask`], exported with [`export_sink_connector!`];
//! - a single message transform: [`Transform`], exported with [`export_transform!`].
//!
//! The rest of the crate is what those traits speak: the Connect data model ([`data`]:
//! [`Schema`], [`SchemaBuilder`], [`Value`], [`Struct`], [`Data`]), settings ([`config`]:
//! [`ConfigDef`] and [`Config`]), records ([`SourceRecord`], [`SinkRecord`]), [`Error`], and what
//! the host offers ([`host`]: logging, offsets, the sink task context, the errant record
//! reporter). No generated WIT type appears in the API (except [`Scalar`], the primitive of
//! source partitions and offsets, which is re-exported as it is so offsets cost no conversion).
//!
//! # Example
//!
//! A source that emits `hello 0`, `hello 1`, ... and resumes where it stopped:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use wasm_connect_sdk::config::{ConfigDef, ConfigKey, ConfigType, Importance};
//! use wasm_connect_sdk::{
//!     Config, Data, Error, OffsetMap, OffsetMapExt, PluginInfo, Scalar, SourceConnector,
//!     SourceRecord, SourceTask, host,
//! };
//!
//! struct Hello {
//!     config: Config,
//! }
//!
//! impl SourceConnector for Hello {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("HelloSource", "Says hello, forever.").alias("HelloSourceConnector")
//!     }
//!     fn version() -> String {
//!         env!("CARGO_PKG_VERSION").to_owned()
//!     }
//!     fn config_def() -> ConfigDef {
//!         ConfigDef::new().define(
//!             ConfigKey::new("topic", ConfigType::String)
//!                 .importance(Importance::High)
//!                 .documentation("Where to write."),
//!         )
//!     }
//!     fn start(config: Config) -> Result<Self, Error> {
//!         Self::config_def().check(&config)?;
//!         Ok(Self { config })
//!     }
//!     fn task_configs(&mut self, _max_tasks: u32) -> Result<Vec<Config>, Error> {
//!         Ok(vec![self.config.clone()])
//!     }
//! }
//!
//! // The topic and source partition are shared by every record (an `Arc` clone each).
//! struct HelloTask {
//!     topic: Arc<str>,
//!     partition: Arc<OffsetMap>,
//!     next: i64,
//! }
//!
//! fn partition() -> OffsetMap {
//!     vec![("greeting".to_owned(), Scalar::String("hello".to_owned()))]
//! }
//!
//! impl SourceTask for HelloTask {
//!     fn start(config: Config) -> Result<Self, Error> {
//!         let topic = config.get_str("topic")?.into();
//!         // Resume after the last committed record.
//!         let next = host::offset(&partition())?
//!             .and_then(|offset| offset.int("seq"))
//!             .map_or(0, |seq| seq + 1);
//!         wasm_connect_sdk::info!("starting at {next}");
//!         Ok(Self {
//!             topic,
//!             partition: Arc::new(partition()),
//!             next,
//!         })
//!     }
//!     fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
//!         let seq = self.next;
//!         self.next += 1;
//!         Ok(vec![SourceRecord::new(
//!             self.partition.clone(),
//!             vec![("seq".to_owned(), Scalar::Int(seq))],
//!             self.topic.clone(),
//!             Data::string(format!("hello {seq}")),
//!         )])
//!     }
//! }
//!
//! wasm_connect_sdk::export_source_connector!(Hello, HelloTask);
//! ```
//!
//! Its `Cargo.toml` needs `crate-type = ["cdylib", "rlib"]` under `[lib]` (the `rlib` lets its
//! unit tests link natively) and a dependency on this crate.
//!
//! # Testing natively
//!
//! The export macros expand to nothing but a type check outside `wasm32`, and [`host`] calls
//! the in-process double in [`testing`] there, so the traits can be driven directly from
//! `cargo test`: set offsets with [`testing::set_offset`], read log lines with
//! [`testing::logs`], and so on.
#![warn(missing_docs)]

pub mod allocator;
pub mod config;
mod connector;
pub mod data;
mod error;
#[doc(hidden)]
pub mod glue;
pub mod host;
mod records;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod transform;

pub use config::{Config, ConfigDef};
pub use connector::{
    PluginInfo, SinkConnector, SinkTask, SourceConnector, SourceTask, TaskOptions,
};
pub use data::{Data, Schema, SchemaBuilder, SchemaType, Struct, Value};
pub use error::Error;
pub use records::{
    Header, OffsetMap, OffsetMapExt, RecordMetadata, Scalar, SinkRecord, SourceRecord,
    SourceRecordBuilder, TimestampType, TopicPartition, TopicPartitionOffset,
};
pub use transform::{Disposition, Transform, TransformRecord};

/// The component's allocator (see [`allocator`]); feature `allocator`, on by default.
#[cfg(all(
    target_arch = "wasm32",
    not(target_feature = "atomics"),
    feature = "allocator"
))]
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator::new();

/// What the export macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::glue::{SinkGlue, SourceGlue, assert_sink, assert_source};
    pub use crate::transform::{TransformGlue, assert_transform};
    pub use wasm_connect_sdk_sink_bindings as sink;
    pub use wasm_connect_sdk_source_bindings as source;
    pub use wasm_connect_sdk_transform_bindings as transform;
}

/// Exports a source connector component: `export_source_connector!(MyConnector, MyTask);`
/// where `MyConnector: SourceConnector` and `MyTask: SourceTask`. Invoke it once, in the
/// connector crate's `lib.rs`.
///
/// On `wasm32` it implements the `source-connector` world's exports; elsewhere it only checks
/// the types, so the crate still builds and tests natively.
#[macro_export]
macro_rules! export_source_connector {
    ($connector:ty, $task:ty $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __WasmConnectSourceGlue = $crate::__private::SourceGlue<$connector, $task>;
            $crate::__private::source::export_source_world!(
                __WasmConnectSourceGlue with_types_in $crate::__private::source
            );
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = $crate::__private::assert_source::<$connector, $task>;
    };
}

/// Exports a sink connector component: `export_sink_connector!(MyConnector, MyTask);` where
/// `MyConnector: SinkConnector` and `MyTask: SinkTask`. Invoke it once, in the connector
/// crate's `lib.rs`.
///
/// On `wasm32` it implements the `sink-connector` world's exports; elsewhere it only checks the
/// types, so the crate still builds and tests natively.
#[macro_export]
macro_rules! export_sink_connector {
    ($connector:ty, $task:ty $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __WasmConnectSinkGlue = $crate::__private::SinkGlue<$connector, $task>;
            $crate::__private::sink::export_sink_world!(
                __WasmConnectSinkGlue with_types_in $crate::__private::sink
            );
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = $crate::__private::assert_sink::<$connector, $task>;
    };
}

/// Exports a single message transform component: `export_transform!(MyTransform);` where
/// `MyTransform: Transform`. Invoke it once, in the crate's `lib.rs`.
///
/// On `wasm32` it implements the `transform` world's export; elsewhere it only checks the
/// type, so the crate still builds and tests natively.
#[macro_export]
macro_rules! export_transform {
    ($transform:ty $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __WasmConnectTransformGlue = $crate::__private::TransformGlue<$transform>;
            $crate::__private::transform::export_transform_world!(
                __WasmConnectTransformGlue with_types_in $crate::__private::transform
            );
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = $crate::__private::assert_transform::<$transform>;
    };
}

/// Logs at trace level with `format!` syntax: `trace!("read {n} bytes")`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::host::log($crate::host::Level::Trace, &::std::format!($($arg)*)) };
}

/// Logs at debug level with `format!` syntax.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::host::log($crate::host::Level::Debug, &::std::format!($($arg)*)) };
}

/// Logs at info level with `format!` syntax: `info!("started at offset {offset}")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::host::log($crate::host::Level::Info, &::std::format!($($arg)*)) };
}

/// Logs at warn level with `format!` syntax.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::host::log($crate::host::Level::Warn, &::std::format!($($arg)*)) };
}

/// Logs at error level with `format!` syntax.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::host::log($crate::host::Level::Error, &::std::format!($($arg)*)) };
}
