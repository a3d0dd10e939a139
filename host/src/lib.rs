//! wasm-connect: a Kafka Connect-compatible runtime in which every connector is an untrusted
//! WebAssembly component.
//!
//! Data flows one way: CLI (or REST) → [`coordinator`] (desired state, connector lifecycle) →
//! [`worker`] (task loops) → [`runtime`] (sandboxed calls) and [`log`] (records). See
//! ARCHITECTURE.md for the map and the invariants.

pub mod config;
pub mod convert;
pub mod coordinator;
pub mod data;
pub mod distributed;
pub mod log;
pub mod logging;
pub mod metrics;
pub mod plugins;
pub mod rest;
pub mod runtime;
pub mod standalone;
pub mod storage;
pub mod tenancy;
pub mod text;
pub mod topics;
pub mod transforms;
pub mod worker;

/// An error and its causes on one line: `failed to load plugin `x`: not a component: ...`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
