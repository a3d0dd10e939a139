//! What one task counts and times, updated by its loop once per batch and read at each scrape
//! of `/metrics`: Kafka Connect's `source-task-metrics`, `sink-task-metrics`,
//! `connector-task-metrics` and `task-error-metrics` attributes.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use super::window::{WindowSettings, Windowed};

/// Counters and windowed statistics of one task; kept across restarts of the task by its
/// connector's `restart.policy`, new when its connector generates new task configs.
#[derive(Debug)]
pub struct TaskMetrics {
    /// Source: records acknowledged by the log (`source-record-write-total`). Sink: records
    /// put into the task (`sink-record-send-total`).
    pub records: AtomicU64,
    /// Source: records `poll` returned (`source-record-poll-total`).
    pub polled: AtomicU64,
    /// Sink: records read from the log (`sink-record-read-total`).
    pub read: AtomicU64,
    /// Records reported to the errant record reporter or skipped.
    pub errant_records: AtomicU64,
    /// Offset commits that completed (`offset-commit-completion-total`).
    pub commits: AtomicU64,
    /// Offset commits that failed.
    pub commit_failures: AtomicU64,
    /// Times the task was restarted by its connector's `restart.policy`.
    pub restarts: AtomicU64,
    /// Sink: partitions assigned (`partition-count`).
    pub partitions: AtomicU64,
    /// Failed attempts of a record stage (`total-record-failures`).
    pub record_failures: AtomicU64,
    /// Records whose stage failed for good (`total-record-errors`).
    pub record_errors: AtomicU64,
    /// Records skipped under `errors.tolerance=all` (`total-records-skipped`).
    pub records_skipped: AtomicU64,
    /// Retries of a record stage (`total-retries`).
    pub retries: AtomicU64,
    /// Failures logged under `errors.log.enable` (`total-errors-logged`).
    pub errors_logged: AtomicU64,
    /// Records sent to the dead letter queue (`deadletterqueue-produce-requests`).
    pub dlq_requests: AtomicU64,
    /// Of those, the ones the log refused (`deadletterqueue-produce-failures`).
    pub dlq_failures: AtomicU64,
    /// Epoch milliseconds of the last record error (`last-error-timestamp`), 0 if none.
    pub last_error_ms: AtomicI64,
    /// Records per second polled, written (source), read, sent (sink).
    pub(super) poll_rate: Windowed,
    pub(super) write_rate: Windowed,
    pub(super) read_rate: Windowed,
    pub(super) send_rate: Windowed,
    /// Milliseconds of `poll` (source) or `put` (sink) per batch.
    pub(super) batch_time: Windowed,
    /// Records per batch polled or put (`batch-size-*`).
    pub(super) batch_size: Windowed,
    /// Milliseconds per offset commit.
    pub(super) commit_time: Windowed,
    /// Sink: records the consumer was behind after each poll (`sink-record-lag-max`).
    pub(super) lag: Windowed,
    /// Source: records polled and not yet written; sink: records read and not yet committed
    /// (`*-record-active-count`), now and over the window.
    pub(super) active_now: AtomicU64,
    pub(super) active: Windowed,
    /// What the task's guest instances did in the sandbox.
    pub guest: GuestMetrics,
    /// Time spent running and paused (`running-ratio`, `pause-ratio`).
    states: Mutex<StateClock>,
    /// Whether the windowed statistics are recorded (false only in the benchmark that
    /// measures their cost; the counters are kept regardless).
    recording: bool,
}

/// Why a guest call was stopped, as a metric label.
pub const TRAP_CAUSES: [&str; 7] = [
    "fuel",
    "deadline",
    "memory",
    "resources",
    "stack_overflow",
    "trap",
    "invalid_data",
];

/// What became of a guest's outgoing HTTP requests, as a metric label.
pub const EGRESS_OUTCOMES: [&str; 6] = [
    "allowed",
    "denied_allow_list",
    "denied_address",
    "refused_concurrency",
    "timed_out",
    "failed",
];

/// How a guest's TCP connects ended (`wasm_connect_task_tcp_connects`).
pub const TCP_OUTCOMES: [&str; 4] = [
    "allowed",
    "denied_allow_list",
    "denied_address",
    "refused_connections",
];

/// Guest calls of a task's instances: how long they took, fuel they burned, traps by cause,
/// and the memory the task's instance holds.
#[derive(Debug, Default)]
pub struct GuestMetrics {
    /// Fuel units consumed by completed calls (with metering on).
    pub fuel: AtomicU64,
    /// Calls into the guest.
    pub calls: AtomicU64,
    /// Calls stopped, by [`TRAP_CAUSES`].
    pub traps: [AtomicU64; TRAP_CAUSES.len()],
    /// Seconds per call, by exported function (`instantiate`, `poll`, `put`, ...).
    pub(super) durations: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Bytes of linear memory, tables and host resources the task's instance held after its
    /// last call, and its cap.
    pub memory_bytes: AtomicU64,
    pub memory_max_bytes: AtomicU64,
    /// Outgoing HTTP requests by [`EGRESS_OUTCOMES`].
    pub egress: [AtomicU64; EGRESS_OUTCOMES.len()],
    /// Outgoing TCP connects by [`TCP_OUTCOMES`].
    pub tcp_connects: [AtomicU64; TCP_OUTCOMES.len()],
    /// Bytes the task's TCP connections sent and received.
    pub tcp_sent_bytes: AtomicU64,
    pub tcp_received_bytes: AtomicU64,
    /// Nanoseconds calls waited for the tenant's compute budget (`quotas.fuel_per_second`).
    pub budget_wait: AtomicU64,
    /// Nanoseconds long calls were paused by `sandbox.throttle.after.ms`.
    pub throttled: AtomicU64,
}

/// Call duration buckets: 100 µs to about 100 s, doubling.
fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 21)
}

impl GuestMetrics {
    /// A call to `function` ended after `took`, having burned `fuel` units (if metered),
    /// stopped for `trap` (a [`TRAP_CAUSES`] entry) if it was.
    pub fn call(
        &self,
        function: &'static str,
        took: Option<Duration>,
        fuel: Option<u64>,
        trap: Option<&str>,
    ) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(fuel) = fuel {
            self.fuel.fetch_add(fuel, Ordering::Relaxed);
        }
        if let Some(index) = trap.and_then(|cause| TRAP_CAUSES.iter().position(|c| *c == cause)) {
            self.traps[index].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(took) = took {
            self.durations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(function)
                .or_insert_with(|| Histogram::new(duration_buckets()))
                .observe(took.as_secs_f64());
        }
    }

    /// An outgoing HTTP request ended with `outcome` (an [`EGRESS_OUTCOMES`] entry).
    pub fn egress(&self, outcome: &str) {
        if let Some(index) = EGRESS_OUTCOMES.iter().position(|o| *o == outcome) {
            self.egress[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A TCP connect ended with `outcome` (a [`TCP_OUTCOMES`] entry).
    pub fn tcp_connect(&self, outcome: &str) {
        if let Some(index) = TCP_OUTCOMES.iter().position(|o| *o == outcome) {
            self.tcp_connects[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A TCP connection sent `bytes`.
    pub fn tcp_sent(&self, bytes: usize) {
        self.tcp_sent_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A TCP connection received `bytes`.
    pub fn tcp_received(&self, bytes: usize) {
        self.tcp_received_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The instance holds `used` bytes of at most `max`.
    pub fn memory(&self, used: usize, max: usize) {
        self.memory_bytes.store(used as u64, Ordering::Relaxed);
        self.memory_max_bytes.store(max as u64, Ordering::Relaxed);
    }
}

/// Where a task's time goes, for `running-ratio` and `pause-ratio`: the seconds of each
/// finished stretch in its state's window, and the stretch in progress.
#[derive(Debug)]
struct StateClock {
    current: Option<RunState>,
    since: Instant,
    running: Windowed,
    paused: Windowed,
    other: Windowed,
}

/// The states the ratios tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Paused,
    /// Starting, failed or stopped.
    Other,
}

impl StateClock {
    fn window(&self, state: RunState) -> &Windowed {
        match state {
            RunState::Running => &self.running,
            RunState::Paused => &self.paused,
            RunState::Other => &self.other,
        }
    }

    /// The share of the window's time spent in `state`, the stretch in progress included.
    fn ratio(&self, state: RunState, now: Instant) -> f64 {
        let ongoing = |s: RunState| {
            if self.current == Some(s) {
                now.saturating_duration_since(self.since).as_secs_f64()
            } else {
                0.0
            }
        };
        let time = |s: RunState| self.window(s).sum_at(now) + ongoing(s);
        let total = time(RunState::Running) + time(RunState::Paused) + time(RunState::Other);
        if total <= 0.0 {
            0.0
        } else {
            time(state) / total
        }
    }
}

impl Default for TaskMetrics {
    fn default() -> Self {
        Self::new(WindowSettings::default())
    }
}

impl TaskMetrics {
    pub fn new(window: WindowSettings) -> Self {
        Self {
            records: AtomicU64::new(0),
            polled: AtomicU64::new(0),
            read: AtomicU64::new(0),
            errant_records: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            partitions: AtomicU64::new(0),
            record_failures: AtomicU64::new(0),
            record_errors: AtomicU64::new(0),
            records_skipped: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            errors_logged: AtomicU64::new(0),
            dlq_requests: AtomicU64::new(0),
            dlq_failures: AtomicU64::new(0),
            last_error_ms: AtomicI64::new(0),
            poll_rate: Windowed::new(window),
            write_rate: Windowed::new(window),
            read_rate: Windowed::new(window),
            send_rate: Windowed::new(window),
            batch_time: Windowed::new(window),
            batch_size: Windowed::new(window),
            commit_time: Windowed::new(window),
            lag: Windowed::new(window),
            active_now: AtomicU64::new(0),
            active: Windowed::new(window),
            guest: GuestMetrics::default(),
            states: Mutex::new(StateClock {
                current: None,
                since: Instant::now(),
                running: Windowed::new(window),
                paused: Windowed::new(window),
                other: Windowed::new(window),
            }),
            recording: true,
        }
    }

    /// Metrics that keep only counters: no windowed statistics, no call durations.
    pub fn counters_only(window: WindowSettings) -> Self {
        Self {
            recording: false,
            ..Self::new(window)
        }
    }

    /// Whether windowed statistics and call durations are recorded.
    pub fn recording(&self) -> bool {
        self.recording
    }

    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The task entered `state`.
    pub fn entered(&self, state: RunState) {
        self.entered_at(state, Instant::now());
    }

    fn entered_at(&self, state: RunState, now: Instant) {
        let mut clock = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(previous) = clock.current {
            let spent = now.saturating_duration_since(clock.since).as_secs_f64();
            clock.window(previous).record_at(spent, now);
        }
        clock.current = Some(state);
        clock.since = now;
    }

    /// The share of the recent window the task spent in `state`.
    pub fn ratio(&self, state: RunState, now: Instant) -> f64 {
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ratio(state, now)
    }

    /// A source's `poll` returned `count` records after `took`. An empty batch is what a Java
    /// task's `null` is (nothing to send), and Kafka Connect records only non-null polls in
    /// `poll-batch-*-time-ms` and `batch-size-*`: so does this, which also keeps an idle
    /// task's polls from costing window updates.
    pub fn polled(&self, count: usize, took: Duration) {
        if count == 0 {
            return;
        }
        self.polled.fetch_add(count as u64, Ordering::Relaxed);
        if !self.recording {
            return;
        }
        self.poll_rate.record(count as f64);
        self.batch_time.record(took.as_secs_f64() * 1000.0);
        self.batch_size.record(count as f64);
    }

    /// The log acknowledged `count` of a source's records.
    pub fn written(&self, count: usize) {
        self.records.fetch_add(count as u64, Ordering::Relaxed);
        if self.recording {
            self.write_rate.record(count as f64);
        }
    }

    /// A sink read `count` records from the log.
    pub fn read(&self, count: usize) {
        self.read.fetch_add(count as u64, Ordering::Relaxed);
        if self.recording {
            self.read_rate.record(count as f64);
        }
    }

    /// `count` records are in the task's hands: polled and not yet written (source), read and
    /// not yet committed (sink).
    pub fn active(&self, count: usize) {
        self.active_now.store(count as u64, Ordering::Relaxed);
        if self.recording {
            self.active.record(count as f64);
        }
    }

    /// A sink's consumer was `lag` records behind after a poll.
    pub fn lagging(&self, lag: i64) {
        if self.recording {
            self.lag.record(lag as f64);
        }
    }

    /// A sink's `put` took `count` records in `took`.
    pub fn put(&self, count: usize, took: Duration) {
        self.records.fetch_add(count as u64, Ordering::Relaxed);
        if !self.recording {
            return;
        }
        self.send_rate.record(count as f64);
        self.batch_time.record(took.as_secs_f64() * 1000.0);
        self.batch_size.record(count as f64);
    }

    /// An offset commit completed (`Ok`) or failed, after `took`.
    pub fn committed(&self, ok: bool, took: Duration) {
        if ok {
            self.commits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.commit_failures.fetch_add(1, Ordering::Relaxed);
        }
        if self.recording {
            self.commit_time.record(took.as_secs_f64() * 1000.0);
        }
    }

    /// A record stage failed once (it may be retried).
    pub fn record_failed(&self) {
        self.record_failures.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64);
        self.last_error_ms.store(now, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_polls_are_not_batches() {
        let metrics = TaskMetrics::default();
        metrics.polled(0, Duration::from_millis(50));
        metrics.polled(10, Duration::from_millis(2));
        let now = Instant::now();
        assert_eq!(metrics.batch_size.avg_at(now), 10.0);
        assert_eq!(metrics.batch_time.max_at(now), 2.0);
    }

    #[test]
    fn ratios_split_the_time_between_running_paused_and_the_rest() {
        let metrics = TaskMetrics::default();
        let start = Instant::now();
        assert_eq!(metrics.ratio(RunState::Running, start), 0.0);
        metrics.entered_at(RunState::Other, start);
        metrics.entered_at(RunState::Running, start + Duration::from_secs(1));
        metrics.entered_at(RunState::Paused, start + Duration::from_secs(7));
        // 1 s starting, 6 s running, then 3 s paused so far.
        let now = start + Duration::from_secs(10);
        assert!((metrics.ratio(RunState::Running, now) - 0.6).abs() < 1e-9);
        assert!((metrics.ratio(RunState::Paused, now) - 0.3).abs() < 1e-9);
    }
}
