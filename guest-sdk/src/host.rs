//! What the host offers a connector: logging, the connector context, the offset reader (source
//! world), the sink task context and the errant record reporter (sink world), wrapped in plain
//! Rust types.
//!
//! On `wasm32` these call the WIT imports. On any other target they call the in-process test
//! double in [`crate::testing`], so connector logic runs under plain `cargo test`.
//!
//! # World-specific imports
//!
//! A source component may only call [`offset`]/[`offsets`]; a sink component may only call
//! [`sink_context`] and [`errant_record_reporter`]. Every such function returns a `Result`, and
//! calling one from the other world returns [`Error::Fatal`] naming the function, without
//! touching the import. (The check happens at run time: one SDK crate serves both worlds, so it
//! cannot be a compile error. Natively the double only checks once a test has called
//! [`crate::testing::set_world`].)

use std::cell::Cell;

use crate::Error;
use crate::records::{OffsetMap, Scalar};

/// The world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// `source-connector`.
    Source,
    /// `sink-connector`.
    Sink,
    /// `transform`: may only log.
    Transform,
}

impl World {
    fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Sink => "sink",
            Self::Transform => "transformation",
        }
    }
}

thread_local! {
    static WORLD: Cell<Option<World>> = const { Cell::new(None) };
}

/// Records the world of the running component; the export glue calls it on every entry.
pub(crate) fn enter(world: World) {
    WORLD.set(Some(world));
}

/// Forgets the world (for the test double).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn leave() {
    WORLD.set(None);
}

/// The world of the running component, once the host has called into it.
pub fn world() -> Option<World> {
    WORLD.get()
}

fn require(world: World, function: &str) -> Result<(), Error> {
    match WORLD.get() {
        Some(current) if current != world => Err(Error::fatal(format!(
            "`{function}` is only available to {} connectors, and this is a {} connector",
            world.name(),
            current.name()
        ))),
        _ => Ok(()),
    }
}

/// Log levels, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warn.
    Warn,
    /// Error.
    Error,
}

/// Writes a log line attributed to the calling connector or task. See also the
/// [`info!`](crate::info) family of macros.
pub fn log(level: Level, message: &str) {
    imp::log(level, message);
}

/// [`log`] at [`Level::Trace`].
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// [`log`] at [`Level::Debug`].
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// [`log`] at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// [`log`] at [`Level::Warn`].
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// [`log`] at [`Level::Error`].
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Asks the host to call `task_configs` again and restart the tasks if their configurations
/// changed. Returns at once. From a task, it is forwarded to the task's connector.
pub fn request_task_reconfiguration() {
    imp::request_task_reconfiguration();
}

/// Fails the calling connector or task with `message` as its trace, as Kafka Connect's
/// `raiseError`. The host stops calling the instance.
pub fn raise_error(message: &str) {
    imp::raise_error(message);
}

/// Resolves `host` for a TCP connection to `port` (source and sink worlds). Connectors get no
/// name lookups of their own: the host resolves the name, but only if the connector's
/// `sandbox.tcp.allow` lists `host:port`, and returns the addresses the worker lets it dial.
/// Connect to one of them with `wasi:sockets` (e.g. `std::net::TcpStream::connect` or, with
/// `--cfg tokio_unstable`, `tokio::net::TcpStream::connect`); connects to any other address
/// are refused. The error says why there are none (not allowed, unknown name, forbidden
/// address range).
pub fn resolve_tcp(host: &str, port: u16) -> Result<Vec<std::net::SocketAddr>, Error> {
    if WORLD.get() == Some(World::Transform) {
        return Err(Error::fatal(
            "`resolve_tcp` is only available to source and sink connectors".to_owned(),
        ));
    }
    let addresses = imp::resolve_tcp(host, port).map_err(Error::Fatal)?;
    addresses
        .iter()
        .map(|address| {
            address
                .parse::<std::net::IpAddr>()
                .map(|ip| std::net::SocketAddr::new(ip, port))
                .map_err(|_| {
                    Error::fatal(format!("the host returned `{address}`, not an IP address"))
                })
        })
        .collect()
}

/// The last committed offset of one source partition of this connector, or none (source
/// world only).
pub fn offset(partition: &[(String, Scalar)]) -> Result<Option<OffsetMap>, Error> {
    require(World::Source, "offset")?;
    Ok(imp::offset(partition))
}

/// The last committed offsets of several source partitions, in the order asked for (source
/// world only).
pub fn offsets(partitions: &[OffsetMap]) -> Result<Vec<Option<OffsetMap>>, Error> {
    require(World::Source, "offsets")?;
    Ok(imp::offsets(partitions))
}

/// Beyond Kafka Connect: tells the host this source task will have no records for `wait`
/// (source world only). A Java source task blocks in `poll` until it has records; a component's
/// `poll` must return, and this is how it waits without being called: after a `poll` that
/// returned no records, the host polls again once `wait` passed, instead of backing off on its
/// own (50 ms, doubling up to the worker's `source.idle.backoff.max.ms`). A stop, pause or
/// resume still takes effect at once. [`Duration::MAX`](std::time::Duration::MAX) waits until
/// one of those. Only the last call during a `poll` counts, and only if that `poll` returns no
/// records; elsewhere it does nothing.
///
/// ```ignore
/// fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
///     let due = self.last_poll + self.interval;
///     let now = Instant::now();
///     if now < due {
///         host::poll_again_after(due - now)?;
///         return Ok(Vec::new());
///     }
///     // ... read and return the next records
/// }
/// ```
pub fn poll_again_after(wait: std::time::Duration) -> Result<(), Error> {
    require(World::Source, "poll_again_after")?;
    imp::poll_again_after(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
    Ok(())
}

/// Kafka Connect's `SinkTaskContext` (sink world only).
pub mod sink_context {
    use std::time::Duration;

    use super::{World, imp, require};
    use crate::Error;
    use crate::records::{TopicPartition, TopicPartitionOffset};

    /// The partitions currently assigned to this task.
    pub fn assignment() -> Result<Vec<TopicPartition>, Error> {
        require(World::Sink, "sink_context::assignment")?;
        Ok(imp::assignment())
    }

    /// Rewinds (or forwards) consumption of these partitions, for tasks that keep their own
    /// offsets in the target system. Takes effect before the next `put`.
    pub fn reset_offsets(offsets: &[TopicPartitionOffset]) -> Result<(), Error> {
        require(World::Sink, "sink_context::reset_offsets")?;
        imp::reset_offsets(offsets);
        Ok(())
    }

    /// Stops delivering records from these partitions until [`resume`].
    pub fn pause(partitions: &[TopicPartition]) -> Result<(), Error> {
        require(World::Sink, "sink_context::pause")?;
        imp::pause(partitions);
        Ok(())
    }

    /// Delivers records from these partitions again.
    pub fn resume(partitions: &[TopicPartition]) -> Result<(), Error> {
        require(World::Sink, "sink_context::resume")?;
        imp::resume(partitions);
        Ok(())
    }

    /// Asks for an offset commit (`pre_commit`) as soon as possible.
    pub fn request_commit() -> Result<(), Error> {
        require(World::Sink, "sink_context::request_commit")?;
        imp::request_commit();
        Ok(())
    }

    /// How long to wait before redelivering a batch after `put` returned a retriable error.
    pub fn timeout(timeout: Duration) -> Result<(), Error> {
        require(World::Sink, "sink_context::timeout")?;
        imp::timeout(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        Ok(())
    }
}

/// Kafka Connect's `ErrantRecordReporter` (KIP-610), sink world only: sends records the task
/// cannot process to the dead letter queue. The host waits for every report before it commits
/// offsets past the reported record.
pub mod errant_record_reporter {
    use super::{World, imp, require};
    use crate::Error;
    use crate::records::SinkRecord;

    /// A handle for one report.
    pub type ReportId = u64;

    /// Where a report stands.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ReportStatus {
        /// Not yet durably written.
        Pending,
        /// Durably written to the dead letter queue (or logged, if no queue is configured).
        Written,
        /// Could not be written; the message says why.
        Failed(String),
    }

    /// Reports `record` (of the current or previous `put` batch; named by its original topic,
    /// partition and offset) with the error that made it unprocessable. Fails if the host does
    /// not know the record, or if `errors.tolerance` is `none` (then the task fails too).
    pub fn report(record: &SinkRecord, error: &str) -> Result<ReportId, Error> {
        require(World::Sink, "errant_record_reporter::report")?;
        imp::report(
            &record.original_topic,
            record.original_partition,
            record.original_offset,
            error,
        )
        .map_err(Error::Fatal)
    }

    /// Where one report stands. Returns at once.
    pub fn status(id: ReportId) -> Result<ReportStatus, Error> {
        require(World::Sink, "errant_record_reporter::status")?;
        Ok(imp::status(id))
    }

    /// Waits until every report so far is written or failed (up to the host's timeout);
    /// returns the first failure.
    pub fn flush() -> Result<(), Error> {
        require(World::Sink, "errant_record_reporter::flush")?;
        imp::flush().map_err(Error::Fatal)
    }
}

/// The real imports.
#[cfg(target_arch = "wasm32")]
mod imp {
    use wasm_connect_sdk_sink_bindings::wasm_connect::connector::{
        errant_record_reporter as reporter, sink_task_context,
    };
    use wasm_connect_sdk_source_bindings::wasm_connect::connector::{
        connector_context, logging, network, offset_storage_reader, source_task_context,
        types as wit,
    };

    use super::Level;
    use super::errant_record_reporter::ReportStatus;
    use crate::records::{OffsetMap, Scalar, TopicPartition, TopicPartitionOffset};

    pub(super) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        logging::log(level, message);
    }

    pub(super) fn request_task_reconfiguration() {
        connector_context::request_task_reconfiguration();
    }

    pub(super) fn raise_error(message: &str) {
        connector_context::raise_error(message);
    }

    pub(super) fn poll_again_after(milliseconds: u64) {
        source_task_context::poll_again_after(milliseconds);
    }

    pub(super) fn resolve_tcp(host: &str, port: u16) -> Result<Vec<String>, String> {
        network::resolve_tcp(host, port)
    }

    pub(super) fn offset(partition: &[(String, Scalar)]) -> Option<OffsetMap> {
        offset_storage_reader::offset(partition)
    }

    pub(super) fn offsets(partitions: &[OffsetMap]) -> Vec<Option<OffsetMap>> {
        offset_storage_reader::offsets(partitions)
    }

    fn tps(partitions: &[TopicPartition]) -> Vec<wit::TopicPartition> {
        partitions
            .iter()
            .cloned()
            .map(TopicPartition::into_wit)
            .collect()
    }

    pub(super) fn assignment() -> Vec<TopicPartition> {
        sink_task_context::assignment()
            .into_iter()
            .map(TopicPartition::from_wit)
            .collect()
    }

    pub(super) fn reset_offsets(offsets: &[TopicPartitionOffset]) {
        let offsets: Vec<_> = offsets
            .iter()
            .cloned()
            .map(TopicPartitionOffset::into_wit)
            .collect();
        sink_task_context::reset_offsets(&offsets);
    }

    pub(super) fn pause(partitions: &[TopicPartition]) {
        sink_task_context::pause(&tps(partitions));
    }

    pub(super) fn resume(partitions: &[TopicPartition]) {
        sink_task_context::resume(&tps(partitions));
    }

    pub(super) fn request_commit() {
        sink_task_context::request_commit();
    }

    pub(super) fn timeout(milliseconds: u64) {
        sink_task_context::timeout(milliseconds);
    }

    pub(super) fn report(
        topic: &str,
        partition: i32,
        offset: i64,
        error: &str,
    ) -> Result<u64, String> {
        reporter::report(topic, partition, offset, error)
    }

    pub(super) fn status(id: u64) -> ReportStatus {
        match reporter::status(id) {
            reporter::ReportStatus::Pending => ReportStatus::Pending,
            reporter::ReportStatus::Written => ReportStatus::Written,
            reporter::ReportStatus::Failed(m) => ReportStatus::Failed(m),
        }
    }

    pub(super) fn flush() -> Result<(), String> {
        reporter::flush()
    }
}

/// The in-process test double.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(super) use crate::testing::double::*;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{SinkRecord, TopicPartition};
    use crate::testing;

    #[test]
    fn imports_of_the_other_world_fail_with_a_clear_error() {
        testing::reset();
        testing::set_world(Some(World::Source));
        let err = sink_context::assignment().unwrap_err();
        assert_eq!(
            err,
            Error::fatal(
                "`sink_context::assignment` is only available to sink connectors, and this is a \
                 source connector"
            )
        );
        assert!(offset(&[]).unwrap().is_none());
        testing::set_world(Some(World::Sink));
        assert!(offsets(&[]).is_err());
        let record = SinkRecord::new("t", 1, 5, None);
        errant_record_reporter::report(&record, "nope").unwrap();
        assert_eq!(testing::errant_reports()[0].offset, 5);
        testing::reset();
    }

    #[test]
    fn poll_again_after_reaches_the_double_in_milliseconds_and_only_for_sources() {
        testing::reset();
        poll_again_after(std::time::Duration::from_micros(2_500)).unwrap();
        assert_eq!(testing::take_poll_again_after(), Some(2));
        poll_again_after(std::time::Duration::MAX).unwrap();
        assert_eq!(testing::take_poll_again_after(), Some(u64::MAX));
        testing::set_world(Some(World::Sink));
        assert!(poll_again_after(std::time::Duration::from_secs(1)).is_err());
        assert_eq!(testing::take_poll_again_after(), None);
        testing::reset();
    }

    #[test]
    fn sink_context_calls_reach_the_double() {
        testing::reset();
        let tp = TopicPartition::new("t", 0);
        testing::set_assignment(vec![tp.clone()]);
        assert_eq!(
            sink_context::assignment().unwrap(),
            std::slice::from_ref(&tp)
        );
        sink_context::pause(std::slice::from_ref(&tp)).unwrap();
        assert_eq!(testing::paused(), std::slice::from_ref(&tp));
        sink_context::resume(&[tp]).unwrap();
        assert!(testing::paused().is_empty());
        sink_context::request_commit().unwrap();
        sink_context::timeout(std::time::Duration::from_millis(250)).unwrap();
        assert_eq!(testing::commit_requests(), 1);
        assert_eq!(testing::timeouts(), [250]);
        testing::reject_errant_reports(Some("tolerance is none".into()));
        let record = SinkRecord::new("t", 0, 1, None);
        assert_eq!(
            errant_record_reporter::report(&record, "x").unwrap_err(),
            Error::fatal("tolerance is none")
        );
    }
}
