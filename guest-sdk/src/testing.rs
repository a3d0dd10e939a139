//! The in-process test double behind [`crate::host`] on non-wasm targets, so connector logic
//! runs under plain `cargo test`. Only compiled when not targeting `wasm32`.
//!
//! State is per thread (Rust runs each test on its own thread), so tests do not see each
//! other's offsets or logs. Call [`reset`] to start over within one test.
//!
//! ```
//! use wasm_connect_sdk::{host, testing, Scalar};
//!
//! testing::reset();
//! let partition = vec![("filename".to_owned(), Scalar::String("a.txt".into()))];
//! testing::set_offset(partition.clone(), vec![("position".to_owned(), Scalar::Int(42))]);
//! let offset = host::offset(&partition).unwrap().unwrap();
//! assert_eq!(offset[0].1, Scalar::Int(42));
//!
//! wasm_connect_sdk::info!("started {}", 1);
//! host::request_task_reconfiguration();
//! assert_eq!(testing::logs(), [(host::Level::Info, "started 1".to_owned())]);
//! assert_eq!(testing::reconfiguration_requests(), 1);
//! ```

use std::cell::RefCell;

use crate::host::{Level, World};
use crate::records::{OffsetMap, TopicPartition, TopicPartitionOffset};

/// One call to [`crate::host::errant_record_reporter::report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrantReport {
    /// The record's original topic.
    pub topic: String,
    /// The record's original partition.
    pub partition: i32,
    /// The record's original offset.
    pub offset: i64,
    /// The error reported with it.
    pub error: String,
}

#[derive(Default)]
struct State {
    offsets: Vec<(OffsetMap, OffsetMap)>,
    logs: Vec<(Level, String)>,
    reconfiguration_requests: usize,
    poll_again_after: Option<u64>,
    raised_errors: Vec<String>,
    assignment: Vec<TopicPartition>,
    reset_offsets: Vec<TopicPartitionOffset>,
    paused: Vec<TopicPartition>,
    commit_requests: usize,
    timeouts: Vec<u64>,
    reports: Vec<ErrantReport>,
    report_rejection: Option<String>,
    reporter_flushes: usize,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with_borrow_mut(f)
}

/// Clears everything recorded and configured on this thread, including the world.
pub fn reset() {
    with(|s| *s = State::default());
    set_world(None);
}

/// Pretends to be a component of `world`, so calls to the other world's imports fail as they
/// would in the sandbox. `None` (the default) allows every import.
pub fn set_world(world: Option<World>) {
    match world {
        Some(w) => crate::host::enter(w),
        None => crate::host::leave(),
    }
}

/// Stores `offset` as the committed offset of source `partition`.
pub fn set_offset(partition: OffsetMap, offset: OffsetMap) {
    with(|s| {
        s.offsets.retain(|(p, _)| *p != partition);
        s.offsets.push((partition, offset));
    });
}

/// The log lines written so far.
pub fn logs() -> Vec<(Level, String)> {
    with(|s| s.logs.clone())
}

/// How many times `request_task_reconfiguration` was called.
pub fn reconfiguration_requests() -> usize {
    with(|s| s.reconfiguration_requests)
}

/// The milliseconds last passed to `poll_again_after`, cleared by reading them (the host reads
/// them after each `poll`).
pub fn take_poll_again_after() -> Option<u64> {
    with(|s| s.poll_again_after.take())
}

/// The messages passed to `raise_error`.
pub fn raised_errors() -> Vec<String> {
    with(|s| s.raised_errors.clone())
}

/// Sets what `sink_context::assignment` returns.
pub fn set_assignment(partitions: Vec<TopicPartition>) {
    with(|s| s.assignment = partitions);
}

/// Every offset passed to `sink_context::reset_offsets`, in order.
pub fn reset_offsets_requests() -> Vec<TopicPartitionOffset> {
    with(|s| s.reset_offsets.clone())
}

/// The partitions paused and not resumed since.
pub fn paused() -> Vec<TopicPartition> {
    with(|s| s.paused.clone())
}

/// How many times `sink_context::request_commit` was called.
pub fn commit_requests() -> usize {
    with(|s| s.commit_requests)
}

/// Every timeout set with `sink_context::timeout`, in milliseconds.
pub fn timeouts() -> Vec<u64> {
    with(|s| s.timeouts.clone())
}

/// The errant records reported so far.
pub fn errant_reports() -> Vec<ErrantReport> {
    with(|s| s.reports.clone())
}

/// How many times the errant record reporter was flushed.
pub fn errant_reporter_flushes() -> usize {
    with(|s| s.reporter_flushes)
}

/// Makes `errant_record_reporter::report` fail with `message` (as the host does when
/// `errors.tolerance` is `none`); `None` makes it succeed again.
pub fn reject_errant_reports(message: Option<String>) {
    with(|s| s.report_rejection = message);
}

/// The double's side of each import, called by `crate::host`.
pub(crate) mod double {
    use super::{ErrantReport, with};
    use crate::host::Level;
    use crate::host::errant_record_reporter::ReportStatus;
    use crate::records::{OffsetMap, Scalar, TopicPartition, TopicPartitionOffset};

    pub(crate) fn log(level: Level, message: &str) {
        with(|s| s.logs.push((level, message.to_owned())));
    }

    pub(crate) fn request_task_reconfiguration() {
        with(|s| s.reconfiguration_requests += 1);
    }

    pub(crate) fn poll_again_after(milliseconds: u64) {
        with(|s| s.poll_again_after = Some(milliseconds));
    }

    /// Natively there is no sandbox: the operating system resolves the name.
    pub(crate) fn resolve_tcp(host: &str, port: u16) -> Result<Vec<String>, String> {
        use std::net::ToSocketAddrs;
        (host, port)
            .to_socket_addrs()
            .map(|found| found.map(|addr| addr.ip().to_string()).collect())
            .map_err(|error| format!("cannot resolve `{host}`: {error}"))
    }

    pub(crate) fn raise_error(message: &str) {
        with(|s| s.raised_errors.push(message.to_owned()));
    }

    pub(crate) fn offset(partition: &[(String, Scalar)]) -> Option<OffsetMap> {
        with(|s| {
            s.offsets
                .iter()
                .find(|(p, _)| p.as_slice() == partition)
                .map(|(_, o)| o.clone())
        })
    }

    pub(crate) fn offsets(partitions: &[OffsetMap]) -> Vec<Option<OffsetMap>> {
        partitions.iter().map(|p| offset(p)).collect()
    }

    pub(crate) fn assignment() -> Vec<TopicPartition> {
        with(|s| s.assignment.clone())
    }

    pub(crate) fn reset_offsets(offsets: &[TopicPartitionOffset]) {
        with(|s| s.reset_offsets.extend_from_slice(offsets));
    }

    pub(crate) fn pause(partitions: &[TopicPartition]) {
        with(|s| {
            for p in partitions {
                if !s.paused.contains(p) {
                    s.paused.push(p.clone());
                }
            }
        });
    }

    pub(crate) fn resume(partitions: &[TopicPartition]) {
        with(|s| s.paused.retain(|p| !partitions.contains(p)));
    }

    pub(crate) fn request_commit() {
        with(|s| s.commit_requests += 1);
    }

    pub(crate) fn timeout(milliseconds: u64) {
        with(|s| s.timeouts.push(milliseconds));
    }

    pub(crate) fn report(
        topic: &str,
        partition: i32,
        offset: i64,
        error: &str,
    ) -> Result<u64, String> {
        with(|s| {
            if let Some(message) = &s.report_rejection {
                return Err(message.clone());
            }
            s.reports.push(ErrantReport {
                topic: topic.to_owned(),
                partition,
                offset,
                error: error.to_owned(),
            });
            Ok(s.reports.len() as u64 - 1)
        })
    }

    pub(crate) fn status(id: u64) -> ReportStatus {
        with(|s| {
            if (id as usize) < s.reports.len() {
                ReportStatus::Written
            } else {
                ReportStatus::Failed(format!("unknown report {id}"))
            }
        })
    }

    pub(crate) fn flush() -> Result<(), String> {
        with(|s| s.reporter_flushes += 1);
        Ok(())
    }
}
