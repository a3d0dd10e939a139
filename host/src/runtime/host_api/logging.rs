//! `logging`: guest log lines become `tracing` events with target `connector` and the fields
//! `connector` and `task`. Lines over 64 KiB are truncated and a call may write at most
//! [`MAX_LOG_LINES_PER_CALL`](crate::runtime::state::MAX_LOG_LINES_PER_CALL) lines.

use crate::runtime::{
    bindings::{source::wasm_connect::connector::logging::Host, wit::Level},
    state::{HostState, MAX_LOG_LINE_BYTES, truncate_message},
};

impl Host for HostState {
    fn log(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        if !self.admit_log_line() {
            return Ok(());
        }
        truncate_message(&mut message, MAX_LOG_LINE_BYTES);
        let connector = &self.ctx.connector;
        let task = self.ctx.task;
        match level {
            Level::Trace => {
                tracing::trace!(target: "connector", connector = %connector, task, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "connector", connector = %connector, task, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "connector", connector = %connector, task, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "connector", connector = %connector, task, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "connector", connector = %connector, task, "{message}")
            }
        }
        Ok(())
    }
}
