//! `connector-context`: forwards requests to the worker as [`ContextEvent`]s. A guest calling
//! in a loop cannot flood the channel: a reconfiguration request is forwarded once per call
//! and an error once per instance.

use crate::runtime::{
    ContextEvent, bindings::source::wasm_connect::connector::connector_context::Host,
    state::HostState,
};

impl Host for HostState {
    fn request_task_reconfiguration(&mut self) -> wasmtime::Result<()> {
        if !std::mem::replace(&mut self.reconfiguration_requested, true) {
            // The receiver is gone only while the worker shuts the connector down.
            let _ = self
                .ctx
                .events
                .send(ContextEvent::RequestTaskReconfiguration);
        }
        Ok(())
    }

    fn raise_error(&mut self, mut message: String) -> wasmtime::Result<()> {
        if !std::mem::replace(&mut self.error_raised, true) {
            crate::text::truncate(&mut message, self.limits.string_max_bytes);
            let _ = self.ctx.events.send(ContextEvent::RaiseError(message));
        }
        Ok(())
    }
}
