//! The `wit_bindgen::generate!` site for the `sink-connector` world. The interfaces it shares
//! with the source world come from `wasm-connect-sdk-source-bindings`, so there is one set of
//! types. Connector authors use `wasm-connect-sdk` instead of this crate.
#![allow(missing_docs, unsafe_code)] // Generated code.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "wasm-connect:connector/sink-connector@0.1.0",
    pub_export_macro: true,
    export_macro_name: "export_sink_world",
    default_bindings_module: "wasm_connect_sdk::__private::sink",
    additional_derives: [PartialEq],
    with: {
        "wasm-connect:connector/types@0.1.0": wasm_connect_sdk_source_bindings::wasm_connect::connector::types,
        "wasm-connect:connector/config-def@0.1.0": wasm_connect_sdk_source_bindings::wasm_connect::connector::config_def,
        "wasm-connect:connector/logging@0.1.0": wasm_connect_sdk_source_bindings::wasm_connect::connector::logging,
        "wasm-connect:connector/connector-context@0.1.0": wasm_connect_sdk_source_bindings::wasm_connect::connector::connector_context,
        "wasm-connect:connector/network@0.1.0": wasm_connect_sdk_source_bindings::wasm_connect::connector::network,
    },
});
