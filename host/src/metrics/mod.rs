//! The worker's metrics: what tasks count and time ([`TaskMetrics`], Kafka's windowed
//! statistics in [`window`]), and `GET /metrics`'s exposition of a [`WorkerSnapshot`] in the
//! Prometheus text format or OpenMetrics (prometheus-client encodes both), under Kafka
//! Connect's metric names as Strimzi's JMX-exporter rules spell them
//! (`kafka_connect_source_task_source_record_poll_total{connector,task}`), so its dashboard
//! and alerts work unchanged. Label values are connector names, task ids, states, classes and
//! versions: never secrets or record content, and at most connectors × tasks series.

mod exposition;
mod task;
pub mod window;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

pub use self::{
    exposition::{Format, render},
    task::{EGRESS_OUTCOMES, GuestMetrics, RunState, TCP_OUTCOMES, TRAP_CAUSES, TaskMetrics},
    window::WindowSettings,
};

/// What `/metrics` shows, gathered from the herder at the scrape.
#[derive(Debug, Default)]
pub struct WorkerSnapshot {
    pub connectors: Vec<ConnectorSnapshot>,
    pub startups: StartupCounts,
    /// Wasm instances running and the most the worker admits.
    pub instances: u64,
    pub instances_max: u64,
    pub compiles: CompileCounts,
    /// Plugins by where they come from: `builtin`, `plugin.path`, `uploaded`.
    pub plugins: Vec<(&'static str, u64)>,
    /// The embedded log's writer, when the worker uses the embedded log.
    pub log: Option<Arc<LogStats>>,
    /// The Kafka clients alive, when the worker uses Kafka.
    pub clients: Vec<Arc<ClientStats>>,
}

/// One connector: its plugin, state and tasks.
#[derive(Debug)]
pub struct ConnectorSnapshot {
    pub name: String,
    /// Its tenant, with tenancy on: a `tenant` label on its series.
    pub tenant: Option<String>,
    /// `source` or `sink`.
    pub kind: &'static str,
    pub class: String,
    pub version: String,
    /// Kafka Connect's state in lower case (`running`, `paused`, `failed`, ...).
    pub state: String,
    pub tasks: Vec<TaskSnapshot>,
}

/// One task: its state and, while its connector runs it, its metrics.
#[derive(Debug)]
pub struct TaskSnapshot {
    pub id: u32,
    pub state: String,
    pub metrics: Option<Arc<TaskMetrics>>,
}

/// The embedded log's writer: its write transactions (each one fsync) and what they appended.
#[derive(Debug)]
pub struct LogStats {
    /// Seconds per write transaction, from its start to its durable commit.
    pub(crate) write_seconds: Histogram,
    /// Seconds of the commit alone (the fsync).
    pub(crate) commit_seconds: Histogram,
    pub(crate) appended: AtomicU64,
}

impl Default for LogStats {
    fn default() -> Self {
        // 50 µs to about 3 s, doubling.
        let buckets = || exponential_buckets(0.00005, 2.0, 17);
        Self {
            write_seconds: Histogram::new(buckets()),
            commit_seconds: Histogram::new(buckets()),
            appended: AtomicU64::new(0),
        }
    }
}

impl LogStats {
    /// A write transaction of `records` appended records took `total`, its commit `commit`.
    pub fn wrote(&self, records: usize, total: std::time::Duration, commit: std::time::Duration) {
        self.appended.fetch_add(records as u64, Ordering::Relaxed);
        self.write_seconds.observe(total.as_secs_f64());
        self.commit_seconds.observe(commit.as_secs_f64());
    }
}

/// One Kafka client's totals from librdkafka's statistics (every `statistics.interval.ms`).
#[derive(Debug)]
pub struct ClientStats {
    /// `producer` or `consumer`.
    pub kind: &'static str,
    pub client_id: String,
    tx_bytes: AtomicU64,
    rx_bytes: AtomicU64,
    tx_messages: AtomicU64,
    rx_messages: AtomicU64,
    connections: AtomicU64,
}

impl ClientStats {
    pub fn new(kind: &'static str, client_id: &str) -> Self {
        Self {
            kind,
            client_id: client_id.to_owned(),
            tx_bytes: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            tx_messages: AtomicU64::new(0),
            rx_messages: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        }
    }

    /// The client's latest statistics: bytes and messages sent and received so far, and the
    /// broker connections that are up.
    pub fn update(&self, tx_bytes: u64, rx_bytes: u64, tx: u64, rx: u64, connections: u64) {
        self.tx_bytes.store(tx_bytes, Ordering::Relaxed);
        self.rx_bytes.store(rx_bytes, Ordering::Relaxed);
        self.tx_messages.store(tx, Ordering::Relaxed);
        self.rx_messages.store(rx, Ordering::Relaxed);
        self.connections.store(connections, Ordering::Relaxed);
    }

    pub(crate) fn load(&self) -> [u64; 5] {
        [
            self.tx_bytes.load(Ordering::Relaxed),
            self.rx_bytes.load(Ordering::Relaxed),
            self.tx_messages.load(Ordering::Relaxed),
            self.rx_messages.load(Ordering::Relaxed),
            self.connections.load(Ordering::Relaxed),
        ]
    }
}

/// Components the runtime compiled or found compiled in its cache.
#[derive(Debug, Default)]
pub struct Compiles {
    hits: AtomicU64,
    misses: AtomicU64,
    baseline: AtomicU64,
    /// Nanoseconds spent compiling.
    nanos: AtomicU64,
}

impl Compiles {
    /// A component was loaded from the compile cache.
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// A component was compiled, taking `took`.
    pub fn compiled(&self, took: std::time::Duration) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(
            took.as_nanos().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// A component was compiled by the baseline compiler, taking `took`.
    pub fn baseline(&self, took: std::time::Duration) {
        self.baseline.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(
            took.as_nanos().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    pub fn counts(&self) -> CompileCounts {
        CompileCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            baseline: self.baseline.load(Ordering::Relaxed),
            seconds: self.nanos.load(Ordering::Relaxed) as f64 / 1e9,
            ..CompileCounts::default()
        }
    }
}

/// Compile cache hits and misses, and the time spent compiling.
#[derive(Debug, Default, Clone, Copy)]
pub struct CompileCounts {
    pub hits: u64,
    pub misses: u64,
    /// Components compiled by the baseline compiler first (`plugin.compile.baseline.min.bytes`).
    pub baseline: u64,
    pub seconds: f64,
    /// Functions compiles took from the compiled-function cache (`cache.functions.max.bytes`).
    pub functions_reused: u64,
    /// Functions compiles compiled with that cache on.
    pub functions_compiled: u64,
}

/// Connector and task starts the worker counts as it makes them.
#[derive(Debug, Default)]
pub struct Startups {
    connector_attempts: AtomicU64,
    connector_failures: AtomicU64,
    task_attempts: AtomicU64,
    task_failures: AtomicU64,
}

impl Startups {
    /// A connector instance was started (`ok`) or failed to start.
    pub fn connector(&self, ok: bool) {
        self.connector_attempts.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.connector_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A task is being started.
    pub fn task_attempt(&self) {
        self.task_attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// A task failed before it ran.
    pub fn task_failure(&self) {
        self.task_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> StartupCounts {
        StartupCounts {
            connector_attempts: self.connector_attempts.load(Ordering::Relaxed),
            connector_failures: self.connector_failures.load(Ordering::Relaxed),
            task_attempts: self.task_attempts.load(Ordering::Relaxed),
            task_failures: self.task_failures.load(Ordering::Relaxed),
        }
    }
}

/// Connector and task starts since the worker started (`connect-worker-metrics`).
#[derive(Debug, Default, Clone, Copy)]
pub struct StartupCounts {
    pub connector_attempts: u64,
    pub connector_failures: u64,
    pub task_attempts: u64,
    pub task_failures: u64,
}
