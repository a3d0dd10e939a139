//! `logging`: guest log lines become `tracing` events with target `connector` and the fields
//! `connector` and `task`, within the task's log budget (`sandbox.log.lines.per.second`,
//! `sandbox.log.bytes.per.second`); lines are truncated to `sandbox.string.max.bytes`, with config-provider
//! secrets put back as their references.

use crate::runtime::{
    bindings::{source::wasm_connect::connector::logging::Host, wit::Level},
    state::HostState,
};

impl Host for HostState {
    fn log(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        if !self.admit_log_line(message.len()) {
            return Ok(());
        }
        self.ctx.secrets.conceal_in_place(&mut message);
        crate::text::truncate(&mut message, self.limits.string_max_bytes);
        let connector = &self.ctx.connector;
        let task = self.ctx.task;
        let tenant = self.ctx.tenant.as_deref();
        match level {
            Level::Trace => {
                tracing::trace!(target: "connector", connector = %connector, task, tenant, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "connector", connector = %connector, task, tenant, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "connector", connector = %connector, task, tenant, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "connector", connector = %connector, task, tenant, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "connector", connector = %connector, task, tenant, "{message}")
            }
        }
        Ok(())
    }
}
