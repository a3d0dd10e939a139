//! The host's only `bindgen!`, so a WIT change lands in one reviewable place.
//!
//! One invocation per world. The sink world reuses every interface the source world already
//! generated (`with:`), so each WIT type has exactly one Rust type; only the exported
//! `connector` interface is generated twice (exports cannot be remapped), and its one type,
//! `plugin-info`, is converted from both.
//!
//! The `transform` world reuses the same shared interfaces; it exports only `transformation`.
//!
//! Imports are synchronous and `trappable` (a host function can fail the call) except
//! `errant-record-reporter.flush`, which waits for the worker, and `network.resolve-tcp`,
//! which waits for a name lookup; both are `async`. Exports are
//! `async` so guest code runs on a fiber and yields at every epoch tick.

#![allow(missing_docs, clippy::all)]

pub mod source {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "source-connector",
        imports: {
            "wasm-connect:connector/network.resolve-tcp": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

pub mod sink {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sink-connector",
        imports: {
            "wasm-connect:connector/errant-record-reporter.flush": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        with: {
            "wasm-connect:connector/types": super::source::wasm_connect::connector::types,
            "wasm-connect:connector/config-def": super::source::wasm_connect::connector::config_def,
            "wasm-connect:connector/logging": super::source::wasm_connect::connector::logging,
            "wasm-connect:connector/connector-context": super::source::wasm_connect::connector::connector_context,
            "wasm-connect:connector/network": super::source::wasm_connect::connector::network,
        },
    });
}

pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transform",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "wasm-connect:connector/types": super::source::wasm_connect::connector::types,
            "wasm-connect:connector/config-def": super::source::wasm_connect::connector::config_def,
            "wasm-connect:connector/logging": super::source::wasm_connect::connector::logging,
        },
    });
}

/// The exported `sink-task` interface (its records).
pub use sink::exports::wasm_connect::connector::sink_task as wit_sink;
/// The exported `source-task` interface (its records).
pub use source::exports::wasm_connect::connector::source_task as wit_source;
/// The WIT `config-def` interface.
pub use source::wasm_connect::connector::config_def as wit_config;
/// The WIT `types` interface.
pub use source::wasm_connect::connector::types as wit;
/// The exported `transformation` interface (its records).
pub use transform::exports::wasm_connect::connector::transformation as wit_transform;
