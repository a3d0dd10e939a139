//! The Wasm sandbox: one wasmtime `Engine`, component loading and the on-disk compile cache,
//! one `Store` per connector and per task with fuel, epoch deadlines and a memory cap, and
//! the host imports (logging, connector context, offsets, sink context, errant records).
//! Knows nothing of Kafka, logs, converters or REST: the worker hands it plain callbacks.
//!
//! CONTRACT (kept by the runtime, relied on by `worker` and `coordinator`):
//! - Every call on an instance is bounded by fuel (if set), a wall-clock deadline and the
//!   memory cap; a breach returns [`CallError::Trap`] naming the limit, its value and the call.
//! - After any trap the instance is poisoned: later calls return [`CallError::Trap`] at once
//!   with [`TrapCause::Poisoned`]. Callers drop it.
//! - Long guest calls yield to tokio at every epoch tick, so tasks share threads fairly.

pub mod bindings;
pub mod capacity;
mod component;
pub mod convert;
mod engine;
mod function_cache;
mod host_api;
pub mod http;
mod instance;
mod limits;
mod log_budget;
pub mod metadata;
mod records_json;
mod stacks;
mod state;
mod tcp;
#[cfg(test)]
mod tests;
mod transform;

pub use component::{CodeTier, Plugin};
pub use engine::{MAX_WASM_STACK, Runtime};
pub use http::EgressPolicy;

pub use crate::config::sandbox::{
    DEFAULT_FUEL_PER_CALL, DEFAULT_LOG_BYTES_PER_SECOND, DEFAULT_LOG_LINES_PER_SECOND,
    DEFAULT_MEMORY_MAX_BYTES, DEFAULT_RESOURCES_MAX, DEFAULT_SCHEMA_MAX_BYTES,
    DEFAULT_STRING_MAX_BYTES, DEFAULT_THROTTLE_AFTER_MS, DEFAULT_TIMEOUT_MS, HostLimits,
    InstanceLayout, SandboxLimits,
};
pub use instance::{
    ConnectorDescription, ConnectorInstance, PolledBatch, SinkTaskInstance, SourceTaskInstance,
};
pub use log_budget::LogBudget;
pub use transform::{
    TransformDescription, TransformInput, TransformInstance, TransformOutcome, TransformedRecord,
};

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{
    config::def::ConfigKey,
    data::{OffsetMap, TopicPartition, TopicPartitionOffset},
};

/// The default `cache.functions.max.bytes`: 256 MiB, room for the shared functions of
/// Python (about 35 MiB) and JavaScript (about 15 MiB) components and many others.
pub const DEFAULT_FUNCTION_CACHE_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// The default `plugin.compile.baseline.min.bytes`: 1 MiB. Smaller components (most Rust
/// connectors) compile optimized within a fraction of a second anyway; JavaScript (2 MB) and
/// Python (about 19 MB) components take seconds.
pub const DEFAULT_BASELINE_MIN_BYTES: usize = 1024 * 1024;

/// A connector or task configuration.
pub type ConfigMap = BTreeMap<String, String>;

/// Settings for the whole runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached (`<dir>/<sha256>-<engine hash>.cwasm`); None
    /// disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// `cache.functions.max.bytes`: the most bytes of compiled functions kept in
    /// `<cache_dir>/functions` for later compiles to reuse; 0 turns that cache off.
    pub function_cache_max_bytes: u64,
    /// How often the epoch advances; bounds how late a deadline is noticed and how long a
    /// guest runs before yielding to other tasks.
    pub epoch_tick: Duration,
    /// The largest component [`Runtime::load`] accepts, in bytes.
    pub max_component_bytes: usize,
    /// `plugin.compile.baseline.min.bytes`: a component at least this large that is not in
    /// the compile cache is first compiled by the baseline compiler (Winch: quick to
    /// compile, slower code), so [`Runtime::load`] returns at once; the optimizing compiler
    /// (Cranelift) then compiles it in the background, and instances made after that run
    /// the optimized code. None: always compile optimized before returning.
    pub baseline_min_bytes: Option<usize>,
    /// Whether guests run metered: fuel, per-call deadlines, fair yielding and the memory
    /// cap. Always true in a worker; false exists only so the benchmark can measure what the
    /// limits cost. Unmetered guests can hang or exhaust the host.
    pub metering: bool,
    /// `sandbox.throttle.after.ms`: a guest call running longer than this runs only one
    /// epoch tick in eight (paused seven ticks between), so a busy loop takes at most an
    /// eighth of a thread from the other tasks; None = never throttle.
    pub throttle_after: Option<Duration>,
    /// What a guest may make the host keep, log or echo beyond its per-call limits.
    pub limits: HostLimits,
    /// How linear memories are laid out, and how many instances may run at once.
    pub layout: InstanceLayout,
    /// The largest memory cap any instance may get (`sandbox.max.memory.bytes`), for the
    /// address space an instance may reserve.
    pub memory_max_bytes: usize,
}

impl RuntimeConfig {
    pub(crate) fn throttle(&self) -> Option<state::Throttle> {
        self.throttle_after.map(|after| state::Throttle {
            after,
            pause: self.epoch_tick * 7,
        })
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            function_cache_max_bytes: DEFAULT_FUNCTION_CACHE_MAX_BYTES,
            epoch_tick: Duration::from_millis(5),
            max_component_bytes: 256 * 1024 * 1024,
            baseline_min_bytes: Some(DEFAULT_BASELINE_MIN_BYTES),
            metering: true,
            throttle_after: Some(Duration::from_millis(DEFAULT_THROTTLE_AFTER_MS)),
            limits: HostLimits::default(),
            layout: InstanceLayout::default(),
            memory_max_bytes: DEFAULT_MEMORY_MAX_BYTES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Source,
    Sink,
    /// A single message transform (the `transform` world).
    Transform,
}

impl PluginKind {
    /// The `type` Kafka Connect's REST API gives the plugin.
    pub fn name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Sink => "sink",
            Self::Transform => "transformation",
        }
    }

    /// Whether `connector.class` may name it.
    pub fn is_connector(self) -> bool {
        !matches!(self, Self::Transform)
    }
}

/// What the host learned about a component when it loaded it.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub class_name: String,
    pub aliases: Vec<String>,
    pub description: String,
    pub version: String,
    pub kind: PluginKind,
    pub config_def: Vec<ConfigKey>,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    /// Linear memory and tables a fresh instance holds once it answered `describe`, measured
    /// when the plugin was loaded: the least memory cap it can run under (a Python component
    /// needs more than 12 MiB).
    pub start_memory_bytes: usize,
}

/// A directory the guest may access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host_path: PathBuf,
    /// The path the guest sees (the same as the host path for the file connectors).
    pub guest_path: String,
    pub writable: bool,
}

/// Something a connector or task asked of the host through `connector-context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextEvent {
    RequestTaskReconfiguration,
    RaiseError(String),
}

/// Reads committed source offsets for one connector.
pub trait OffsetReader: Send + Sync {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap>;
}

/// State a sink task shares with its sink loop through `sink-task-context`.
#[derive(Debug, Default)]
pub struct SinkContextState {
    pub assignment: Vec<TopicPartition>,
    pub reset_offsets: Vec<TopicPartitionOffset>,
    pub pause: Vec<TopicPartition>,
    pub resume: Vec<TopicPartition>,
    pub commit_requested: bool,
    pub timeout: Option<Duration>,
}

pub type SinkContext = Arc<Mutex<SinkContextState>>;

/// Where a report through `errant-record-reporter` stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportStatus {
    Pending,
    Written,
    Failed(String),
}

/// The host side of `errant-record-reporter`, implemented by the worker.
#[async_trait::async_trait]
pub trait ErrantRecordReporter: Send + Sync {
    fn report(&self, topic: &str, partition: i32, offset: i64, error: &str) -> Result<u64, String>;
    fn status(&self, id: u64) -> ReportStatus;
    async fn flush(&self) -> Result<(), String>;
}

/// A compute budget shared by instances (a tenant's `quotas.fuel_per_second`): calls wait
/// while it is overdrawn, and every call's fuel is charged to it.
pub trait ComputeBudget: Send + Sync {
    /// How long the next call must wait for the budget; None = not at all.
    fn delay(&self) -> Option<Duration>;
    /// Charges the fuel a call burned.
    fn charge(&self, fuel: u64);
}

/// Who an instance is and what it may touch.
#[derive(Clone)]
pub struct InstanceContext {
    pub connector: String,
    /// None for the connector instance.
    pub task: Option<u32>,
    pub limits: SandboxLimits,
    pub preopens: Vec<Preopen>,
    /// Outgoing HTTP (`wasi:http`) this instance may make; None = none at all.
    pub egress: Option<Arc<EgressPolicy>>,
    /// Outgoing TCP (`wasi:sockets/tcp`) this instance may open; None = none at all.
    pub tcp: Option<Arc<crate::config::tcp::TcpPolicy>>,
    pub events: tokio::sync::mpsc::UnboundedSender<ContextEvent>,
    /// For source connectors and tasks.
    pub offsets: Option<Arc<dyn OffsetReader>>,
    /// For sink tasks.
    pub sink_context: Option<SinkContext>,
    /// For sink tasks.
    pub reporter: Option<Arc<dyn ErrantRecordReporter>>,
    /// The task's log budget, shared by all its instances and the host's lines about it;
    /// None = the instance gets a budget of its own.
    pub log: Option<Arc<LogBudget>>,
    /// Where the task's calls, fuel and traps are counted; None for instances of no task.
    pub metrics: Option<Arc<crate::metrics::TaskMetrics>>,
    /// What config-provider references brought into the instance's config: put back as the
    /// references in everything the guest makes the host log, keep or echo.
    pub secrets: Arc<crate::config::providers::Secrets>,
    /// The compute budget its calls draw on (its tenant's); None = unbudgeted.
    pub budget: Option<Arc<dyn ComputeBudget>>,
    /// Its tenant's open-connection slots (`quotas.http_connections`), shared by all the
    /// tenant's instances, beside its own `sandbox.http.concurrent.requests`.
    pub http_connections: Option<Arc<tokio::sync::Semaphore>>,
    /// Its tenant (with tenancy on): a `tenant` field on its log lines.
    pub tenant: Option<Arc<str>>,
    /// Whether `metrics`' memory gauge is this instance's: true for a task's own instance,
    /// false for the transform component instances whose calls it also counts.
    pub counts_memory: bool,
}

impl InstanceContext {
    /// A context with no files, network, offsets, sink context or reporter, whose events
    /// nobody hears: for instances that only validate, describe or are driven by hand.
    pub fn detached(
        connector: impl Into<String>,
        task: Option<u32>,
        limits: SandboxLimits,
    ) -> Self {
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        Self {
            connector: connector.into(),
            task,
            limits,
            preopens: Vec::new(),
            egress: None,
            tcp: None,
            events,
            offsets: None,
            sink_context: None,
            reporter: None,
            log: None,
            metrics: None,
            secrets: Arc::default(),
            budget: None,
            http_connections: None,
            tenant: None,
            counts_memory: true,
        }
    }
}

/// The error a connector returned (the WIT `connector-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("retriable error: {0}")]
    Retriable(String),
    #[error("{0}")]
    Fatal(String),
}

impl ConnectorError {
    /// The error with config-provider secrets put back as their references.
    pub fn concealed(self, secrets: &crate::config::providers::Secrets) -> Self {
        if secrets.is_empty() {
            return self;
        }
        let conceal = |message: String| secrets.conceal(&message).into_owned();
        match self {
            Self::InvalidConfig(message) => Self::InvalidConfig(conceal(message)),
            Self::Retriable(message) => Self::Retriable(conceal(message)),
            Self::Fatal(message) => Self::Fatal(conceal(message)),
        }
    }
}

/// Why the sandbox stopped a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapCause {
    FuelExhausted {
        budget: u64,
    },
    Timeout {
        limit: Duration,
    },
    /// Linear memory, tables and host resources together would pass the memory cap.
    MemoryLimit {
        limit: usize,
        requested: usize,
        /// How much of `requested` is host resources the guest holds.
        host: usize,
    },
    /// The guest holds as many host resources as it may (`sandbox.resources.max`).
    ResourceLimit {
        limit: usize,
    },
    StackOverflow,
    /// A panic, `unreachable`, out-of-bounds access or other trap, with wasmtime's message and
    /// the guest backtrace.
    Trap(String),
    /// The guest broke the contract (e.g. a malformed value table, an out-of-range index).
    InvalidData(String),
    /// An earlier call trapped; the instance must be dropped.
    Poisoned,
}

impl TrapCause {
    /// The cause as a metric label (`wasm_connect_task_traps_total{cause}`); None for a call
    /// refused because an earlier one trapped.
    pub fn label(&self) -> Option<&'static str> {
        Some(match self {
            Self::FuelExhausted { .. } => "fuel",
            Self::Timeout { .. } => "deadline",
            Self::MemoryLimit { .. } => "memory",
            Self::ResourceLimit { .. } => "resources",
            Self::StackOverflow => "stack_overflow",
            Self::Trap(_) => "trap",
            Self::InvalidData(_) => "invalid_data",
            Self::Poisoned => return None,
        })
    }
}

impl std::fmt::Display for TrapCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FuelExhausted { budget } => write!(
                f,
                "fuel exhausted after {budget} units (sandbox.fuel.per.call)"
            ),
            Self::Timeout { limit } => write!(
                f,
                "deadline of {} ms exceeded (sandbox.timeout.ms)",
                limit.as_millis()
            ),
            Self::MemoryLimit {
                limit,
                requested,
                host,
            } => limits::MemoryRefusal {
                limit: *limit,
                requested: *requested,
                host: *host,
            }
            .fmt(f),
            Self::ResourceLimit { limit } => write!(
                f,
                "more than {limit} host resources (WASI handles: files, streams, HTTP requests, \
                 bodies, headers) held at once (sandbox.resources.max)"
            ),
            Self::StackOverflow => write!(f, "wasm stack overflow"),
            Self::Trap(message) => write!(f, "trap: {message}"),
            Self::InvalidData(message) => write!(f, "invalid data from guest: {message}"),
            Self::Poisoned => write!(f, "instance unusable after an earlier trap"),
        }
    }
}

/// Why a call on an instance failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The guest returned an error.
    #[error("{call} failed: {error}")]
    Connector {
        call: &'static str,
        error: ConnectorError,
    },
    /// The sandbox stopped the guest; e.g. "poll: fuel exhausted after 50000000 units".
    #[error("{call}: {cause}")]
    Trap {
        call: &'static str,
        cause: TrapCause,
    },
}

impl CallError {
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Self::Connector {
                error: ConnectorError::Retriable(_),
                ..
            }
        )
    }
}

/// Why a component could not be loaded or instantiated.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("`{origin}` is not a WebAssembly component: {reason}")]
    NotAComponent { origin: String, reason: String },
    #[error("`{origin}` does not target a connector world: {reason}")]
    WrongWorld { origin: String, reason: String },
    #[error(
        "`{origin}` is {size} bytes, more than the worker's limit of {max} bytes (raise `plugin.max.bytes` to load it)"
    )]
    TooLarge {
        origin: String,
        size: usize,
        max: usize,
    },
    #[error("failed to compile `{origin}`")]
    Compile {
        origin: String,
        #[source]
        source: anyhow::Error,
    },
    /// The component describes itself with names or text the host does not accept.
    #[error("`{origin}` was refused: {reason}")]
    BadDescription { origin: String, reason: String },
    #[error("failed to instantiate `{origin}`")]
    Instantiate {
        origin: String,
        #[source]
        source: anyhow::Error,
    },
    #[error(transparent)]
    Call(#[from] CallError),
    /// The worker runs as many instances as it may (`sandbox.instances.max` or the kernel
    /// limit it is derived from); nothing was created.
    #[error("cannot instantiate `{origin}`")]
    AtCapacity {
        origin: String,
        #[source]
        source: capacity::AtCapacity,
    },
}

/// What `source-task.start` asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskOptions {
    pub wants_commit_records: bool,
}
