//! `network`: `resolve-tcp` resolves an allow-listed `host:port` for the instance's TCP
//! guard (`runtime::tcp`), which remembers the addresses it returns as the only ones the
//! guest's `wasi:sockets` connects may reach. The guest's host name is bounded by
//! `sandbox.string.max.bytes` before anything looks at it.

use crate::runtime::{bindings::source::wasm_connect::connector::network::Host, state::HostState};

impl Host for HostState {
    async fn resolve_tcp(
        &mut self,
        mut host: String,
        port: u16,
    ) -> wasmtime::Result<Result<Vec<String>, String>> {
        let Some(guard) = self.tcp.clone() else {
            return Ok(Err(
                "this connector has no TCP grant: set sandbox.tcp.allow to the host:port \
                 destinations it may connect to"
                    .to_owned(),
            ));
        };
        crate::text::truncate(&mut host, self.limits.string_max_bytes);
        Ok(guard
            .resolve(&host, port)
            .await
            .map(|addresses| addresses.iter().map(ToString::to_string).collect()))
    }
}
