//! The `wit_bindgen::generate!` site for the `source-connector` world. It owns the types every
//! world shares (`types`, `config-def`, `logging`, `connector-context`); the sink bindings reuse
//! them. Connector authors use `wasm-connect-sdk` instead of this crate.
//!
//! Each world lives in its own crate because both worlds export the `connector` interface, and
//! wit-bindgen's `pub_export_macro` puts one `#[macro_export]` macro per exported interface at
//! the crate root: two worlds in one crate would define the same macro twice.
#![allow(missing_docs, unsafe_code)] // Generated code.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "wasm-connect:connector/source-connector@0.1.0",
    pub_export_macro: true,
    export_macro_name: "export_source_world",
    default_bindings_module: "wasm_connect_sdk::__private::source",
    additional_derives: [PartialEq],
});
