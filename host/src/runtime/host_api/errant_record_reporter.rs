//! `errant-record-reporter`: reports go to the worker's [`ErrantRecordReporter`]; `flush`
//! waits for it, at most [`FLUSH_TIMEOUT`].
//!
//! [`ErrantRecordReporter`]: crate::runtime::ErrantRecordReporter

use std::time::Duration;

use crate::runtime::{
    ReportStatus,
    bindings::sink::wasm_connect::connector::errant_record_reporter::{
        Host, ReportId, ReportStatus as WitReportStatus,
    },
    state::HostState,
};

/// Longest `flush` waits for the worker.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

const NO_REPORTER: &str = "this task has no errant record reporter";

impl Host for HostState {
    fn report(
        &mut self,
        topic: String,
        partition: i32,
        offset: i64,
        mut error: String,
    ) -> wasmtime::Result<Result<ReportId, String>> {
        let Some(reporter) = &self.ctx.reporter else {
            return Ok(Err(NO_REPORTER.to_owned()));
        };
        self.ctx.secrets.conceal_in_place(&mut error);
        crate::text::truncate(&mut error, self.limits.string_max_bytes);
        Ok(reporter.report(&topic, partition, offset, &error))
    }

    fn status(&mut self, id: ReportId) -> wasmtime::Result<WitReportStatus> {
        let Some(reporter) = &self.ctx.reporter else {
            return Ok(WitReportStatus::Failed(NO_REPORTER.to_owned()));
        };
        Ok(match reporter.status(id) {
            ReportStatus::Pending => WitReportStatus::Pending,
            ReportStatus::Written => WitReportStatus::Written,
            ReportStatus::Failed(message) => WitReportStatus::Failed(message),
        })
    }

    async fn flush(&mut self) -> wasmtime::Result<Result<(), String>> {
        let Some(reporter) = self.ctx.reporter.clone() else {
            return Ok(Err(NO_REPORTER.to_owned()));
        };
        Ok(
            match tokio::time::timeout(FLUSH_TIMEOUT, reporter.flush()).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "the errant record reporter did not finish within {} s",
                    FLUSH_TIMEOUT.as_secs()
                )),
            },
        )
    }
}
