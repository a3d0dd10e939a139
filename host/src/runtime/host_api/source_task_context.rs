//! `source-task-context`: keeps a source task's `poll-again-after` for the worker to read
//! after the `poll` (see [`PolledBatch::idle_for`](crate::runtime::PolledBatch::idle_for)).
//! A call only overwrites one field, so a guest calling it in a loop costs the host nothing.

use std::time::Duration;

use crate::runtime::{
    bindings::source::wasm_connect::connector::source_task_context::Host, state::HostState,
};

impl Host for HostState {
    fn poll_again_after(&mut self, milliseconds: u64) -> wasmtime::Result<()> {
        self.poll_again_after = Some(Duration::from_millis(milliseconds));
        Ok(())
    }
}
