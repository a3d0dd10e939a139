//! Worker settings: Kafka Connect's worker keys (`bootstrap.servers`, `offset.flush.interval.ms`,
//! `plugin.path`, converters, client prefixes) plus this host's own (`data.dir`, `sandbox.*`):
//! the sandbox limits connectors get by default and the maxima no connector may exceed.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use super::{ConfigError, Settings, SettingsExt};
use super::{
    egress::{
        DEFAULT_HTTP_RESPONSE_MAX_BYTES, DEFAULT_HTTP_TIMEOUT_MS,
        DEFAULT_MAX_HTTP_CONCURRENT_REQUESTS, TlsTrust,
    },
    sandbox::{
        DEFAULT_FUEL_PER_CALL, DEFAULT_LOG_BYTES_PER_SECOND, DEFAULT_LOG_LINES_PER_SECOND,
        DEFAULT_MEMORY_GUARD_BYTES, DEFAULT_MEMORY_MAX_BYTES, DEFAULT_MEMORY_RESERVATION_BYTES,
        DEFAULT_RESOURCES_MAX, DEFAULT_SCHEMA_MAX_BYTES, DEFAULT_STRING_MAX_BYTES,
        DEFAULT_THROTTLE_AFTER_MS, DEFAULT_TIMEOUT_MS, HostLimits, InstanceLayout, SandboxLimits,
    },
};

/// Where records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogBackend {
    /// Kafka at these bootstrap servers.
    Kafka { bootstrap_servers: String },
    /// The embedded durable log in this directory.
    Embedded { dir: PathBuf },
}

/// A converter class and its own settings (prefix stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConverterSpec {
    pub class: String,
    pub settings: Settings,
}

/// Validated worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Everything as written, for client prefixes and connector-level defaults.
    pub raw: Settings,
    /// The first of `listeners` (default `http://127.0.0.1:8083`): where the REST API listens.
    pub listener: (String, u16),
    /// This worker's identity in statuses (`worker_id`): `rest.advertised.host.name` and
    /// `rest.advertised.port` (default 8083) when set, else [`DEFAULT_WORKER_ID`]; the binary
    /// sets it from the address it bound with [`WorkerConfig::advertised_worker_id`].
    pub worker_id: String,
    /// `topic.tracking.enable` (default true): whether connectors' active topics are kept.
    pub topic_tracking_enable: bool,
    /// `topic.tracking.allow.reset` (default true): whether they may be reset over REST.
    pub topic_tracking_allow_reset: bool,
    /// `consumer.max.poll.records` (default 500): records a sink task gets per `put` at most.
    pub consumer_max_poll_records: usize,
    /// `source.idle.backoff.max.ms` (default 1000): the longest a source task waits to poll
    /// again after polls that returned nothing (the wait starts at 50 ms and doubles).
    pub source_idle_backoff_max: Duration,
    /// `log.format` (default `text`): how the binary writes its log.
    pub log_format: LogFormat,
    /// `metrics.sample.window.ms` (30000) and `metrics.num.samples` (2): the window of the
    /// `*-rate`, `*-avg` and `*-max` metrics.
    pub metrics_window: crate::metrics::WindowSettings,
    pub log: LogBackend,
    /// Directory for the embedded log, the compile cache and other worker state.
    pub data_dir: PathBuf,
    /// `log.cache.bytes`: the embedded log's page cache.
    pub log_cache_bytes: usize,
    /// Where compiled components are cached (`cache.dir`, default `<data.dir>/cache`).
    pub cache_dir: PathBuf,
    /// `plugin.max.bytes`: the largest component the worker loads.
    pub plugin_max_bytes: usize,
    /// `cache.functions.max.bytes`: compiled functions kept for later compiles; 0 = off.
    pub function_cache_max_bytes: u64,
    /// `plugin.compile.baseline.min.bytes`: components at least this large load with baseline
    /// code first; None (`-1`) = never.
    pub baseline_min_bytes: Option<usize>,
    pub offset_file: PathBuf,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    pub task_shutdown_timeout: Duration,
    pub plugin_path: Vec<PathBuf>,
    pub key_converter: ConverterSpec,
    pub value_converter: ConverterSpec,
    pub header_converter: ConverterSpec,
    /// Sandbox limits connectors get unless they set their own.
    pub sandbox: SandboxLimits,
    /// The most a connector may ask for (`sandbox.max.*`); `sandbox` is within them.
    pub sandbox_max: SandboxMaxima,
    /// What network access connectors may be granted (`sandbox.http.*`).
    pub http: HttpWorkerPolicy,
    /// What outgoing TCP connectors may be granted (`sandbox.tcp.*`).
    pub tcp: super::tcp::TcpWorkerPolicy,
    /// Which directories connectors may be granted (`sandbox.fs.enabled`,
    /// `sandbox.fs.allowed.roots`, `sandbox.fs.denied.paths`, and the worker's own files).
    pub fs: super::filesystem::FsPolicy,
    /// The config providers connector configs may reference (`config.providers`).
    pub config_providers: super::providers::ConfigProviders,
    /// Tenants and the operator's credential (`tenancy.*`).
    pub tenancy: crate::tenancy::TenancySettings,
    /// `audit.log.file` (default `<data.dir>/audit.log`; empty = none): where every
    /// control-plane change over REST is recorded.
    pub audit_log: Option<PathBuf>,
    /// Whether guests run metered (fuel, deadlines, fair yielding, memory cap). Not a
    /// property: always true, except in the benchmark that measures what metering costs.
    pub metering: bool,
    /// Whether tasks record the windowed statistics and call durations `/metrics` shows (the
    /// counters are always kept). Not a property: always true, except in the benchmark that
    /// measures what recording them costs.
    pub metrics_recording: bool,
    /// `sandbox.throttle.after.ms` (default 100, 0 = never): a guest call running longer
    /// than this gets an eighth of a thread, so a busy loop cannot starve other tasks.
    pub throttle_after: Option<Duration>,
    /// What a guest may make the host keep, log or echo (`sandbox.string.max.bytes`,
    /// `sandbox.resources.max`, `sandbox.log.*`, `sandbox.schema.max.bytes`).
    pub host_limits: HostLimits,
    /// What one task may make the worker store or hold (`sandbox.source.*`,
    /// `sandbox.record.max.bytes`, `sandbox.inflight.max.bytes`, `sandbox.topics.max`,
    /// `sandbox.errant.reports.max`).
    pub task_limits: TaskLimits,
    /// How instances are laid out and how many run at once (`sandbox.memory.reservation.bytes`,
    /// `sandbox.memory.guard.bytes`, `sandbox.memory.cow.enable`, `sandbox.instances.max`).
    pub instance_layout: InstanceLayout,
}

/// Bounds on what one task may make the worker store or hold, beyond its sandbox: the same
/// for every connector of a worker. Breaching one fails the task with a trace naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLimits {
    /// `sandbox.source.partitions.max`: distinct source partitions one source task may
    /// commit offsets for (and a connector, times its `tasks.max`, in the offset store).
    pub source_partitions_max: usize,
    /// `sandbox.source.offset.max.bytes`: the largest source partition or source offset
    /// map, in bytes of its JSON form.
    pub source_offset_max_bytes: usize,
    /// `sandbox.record.max.bytes`: the largest record a source task may produce, key, value
    /// and headers as converted.
    pub record_max_bytes: usize,
    /// `sandbox.inflight.max.bytes`: converted records of one task waiting for the log's
    /// acknowledgement; the task stops polling while they fill it.
    pub inflight_max_bytes: usize,
    /// `sandbox.topics.max`: distinct topics one connector may write to.
    pub topics_max: usize,
    /// `sandbox.errant.reports.max`: errant record reports one sink task may have
    /// unfinished; `report` returns an error asking the guest to `flush` beyond it.
    pub errant_reports_max: usize,
}

/// Default `log.cache.bytes`: the embedded log's page cache (its database's own default).
pub const DEFAULT_LOG_CACHE_BYTES: usize = 1 << 30;

/// Default `sandbox.source.partitions.max`.
pub const DEFAULT_SOURCE_PARTITIONS_MAX: usize = 10_000;
/// Default `sandbox.source.offset.max.bytes`.
pub const DEFAULT_SOURCE_OFFSET_MAX_BYTES: usize = 4 << 10;
/// Default `sandbox.record.max.bytes`.
pub const DEFAULT_RECORD_MAX_BYTES: usize = 8 << 20;
/// Default `sandbox.inflight.max.bytes`.
pub const DEFAULT_INFLIGHT_MAX_BYTES: usize = 64 << 20;
/// Default `sandbox.topics.max`.
pub const DEFAULT_TOPICS_MAX: usize = 1_000;
/// Default `sandbox.errant.reports.max`.
pub const DEFAULT_ERRANT_REPORTS_MAX: usize = 10_000;

impl Default for TaskLimits {
    fn default() -> Self {
        Self {
            source_partitions_max: DEFAULT_SOURCE_PARTITIONS_MAX,
            source_offset_max_bytes: DEFAULT_SOURCE_OFFSET_MAX_BYTES,
            record_max_bytes: DEFAULT_RECORD_MAX_BYTES,
            inflight_max_bytes: DEFAULT_INFLIGHT_MAX_BYTES,
            topics_max: DEFAULT_TOPICS_MAX,
            errant_reports_max: DEFAULT_ERRANT_REPORTS_MAX,
        }
    }
}

impl TaskLimits {
    pub fn from_settings(raw: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            source_partitions_max: positive(
                raw,
                "sandbox.source.partitions.max",
                DEFAULT_SOURCE_PARTITIONS_MAX,
                "a positive number of source partitions",
            )?,
            source_offset_max_bytes: positive(
                raw,
                "sandbox.source.offset.max.bytes",
                DEFAULT_SOURCE_OFFSET_MAX_BYTES,
                "a positive number of bytes",
            )?,
            record_max_bytes: positive(
                raw,
                "sandbox.record.max.bytes",
                DEFAULT_RECORD_MAX_BYTES,
                "a positive number of bytes",
            )?,
            inflight_max_bytes: positive(
                raw,
                "sandbox.inflight.max.bytes",
                DEFAULT_INFLIGHT_MAX_BYTES,
                "a positive number of bytes",
            )?,
            topics_max: positive(
                raw,
                "sandbox.topics.max",
                DEFAULT_TOPICS_MAX,
                "a positive number of topics",
            )?,
            errant_reports_max: positive(
                raw,
                "sandbox.errant.reports.max",
                DEFAULT_ERRANT_REPORTS_MAX,
                "a positive number of reports",
            )?,
        })
    }
}

/// The filesystem policy: `sandbox.fs.enabled`, `sandbox.fs.allowed.roots` (each must exist),
/// and every path no grant may touch: the system's, the worker's own state and plugins, its
/// TLS trust file and `sandbox.fs.denied.paths`. The config files the worker was started with
/// are added by the binary.
fn fs_policy(
    raw: &Settings,
    data_dir: &Path,
    log: &LogBackend,
    cache_dir: &Path,
    offset_file: &Path,
    plugin_path: &[PathBuf],
) -> Result<super::filesystem::FsPolicy, ConfigError> {
    use super::filesystem::FsPolicy;
    let mut allowed_roots = Vec::new();
    for root in raw.list("sandbox.fs.allowed.roots") {
        let resolved = std::fs::canonicalize(&root).map_err(|error| {
            ConfigError::Other(format!(
                "sandbox.fs.allowed.roots: `{root}` cannot be used: {error}; list existing \
                 directories"
            ))
        })?;
        allowed_roots.push(resolved);
    }
    let mut policy = FsPolicy {
        enabled: raw.bool_or("sandbox.fs.enabled", true)?,
        allowed_roots,
        denied: FsPolicy::system_denied(),
        tenant: None,
    };
    policy.deny(
        data_dir,
        "the worker's data.dir: its log, offsets, connector configs and uploaded plugins",
    );
    if let LogBackend::Embedded { dir } = log {
        policy.deny(dir, "the worker's embedded log (log.dir)");
    }
    policy.deny(cache_dir, "the worker's compile cache (cache.dir)");
    policy.deny(
        offset_file,
        "the worker's source offsets (offset.storage.file.filename)",
    );
    for dir in plugin_path {
        policy.deny(dir, "plugin.path: the components the worker loads");
    }
    if let Some(file) = raw.string("sandbox.http.tls.ca.file") {
        policy.deny(
            Path::new(file),
            "the worker's TLS trust (sandbox.http.tls.ca.file)",
        );
    }
    for path in raw.list("sandbox.fs.denied.paths") {
        policy.deny(Path::new(&path), "sandbox.fs.denied.paths");
    }
    Ok(policy)
}

/// Reads `sandbox.string.max.bytes`, `sandbox.resources.max`, `sandbox.log.lines.per.second`,
/// `sandbox.log.bytes.per.second` and `sandbox.schema.max.bytes`.
pub fn host_limits(raw: &Settings) -> Result<HostLimits, ConfigError> {
    let string_max_bytes = positive(
        raw,
        "sandbox.string.max.bytes",
        DEFAULT_STRING_MAX_BYTES,
        "a number of bytes of at least 1024",
    )?;
    if string_max_bytes < 1024 {
        return Err(ConfigError::Invalid {
            key: "sandbox.string.max.bytes".into(),
            value: string_max_bytes.to_string(),
            expected: "a number of bytes of at least 1024",
        });
    }
    Ok(HostLimits {
        string_max_bytes,
        resources_max: positive(
            raw,
            "sandbox.resources.max",
            DEFAULT_RESOURCES_MAX,
            "a positive number of resources",
        )?,
        log_lines_per_second: positive(
            raw,
            "sandbox.log.lines.per.second",
            DEFAULT_LOG_LINES_PER_SECOND,
            "a positive number of lines",
        )?,
        log_bytes_per_second: positive(
            raw,
            "sandbox.log.bytes.per.second",
            DEFAULT_LOG_BYTES_PER_SECOND,
            "a positive number of bytes",
        )?,
        schema_max_bytes: positive(
            raw,
            "sandbox.schema.max.bytes",
            DEFAULT_SCHEMA_MAX_BYTES,
            "a positive number of bytes",
        )?,
    })
}

/// Reads `sandbox.memory.reservation.bytes`, `sandbox.memory.guard.bytes`,
/// `sandbox.memory.cow.enable` and `sandbox.instances.max` (unset: derived by the runtime).
pub fn instance_layout(raw: &Settings) -> Result<InstanceLayout, ConfigError> {
    let memory_guard_bytes = at_most(
        raw,
        "sandbox.memory.guard.bytes",
        DEFAULT_MEMORY_GUARD_BYTES,
        4 << 30,
        "a number of bytes from 0 to 4 GiB",
    )?;
    let memory_reservation_bytes = at_most(
        raw,
        "sandbox.memory.reservation.bytes",
        DEFAULT_MEMORY_RESERVATION_BYTES,
        64 << 30,
        "a number of bytes from 0 to 64 GiB",
    )?;
    let instances_max = match raw.string("sandbox.instances.max") {
        None => None,
        Some(_) => Some(positive(
            raw,
            "sandbox.instances.max",
            0,
            "a positive number of instances",
        )?),
    };
    Ok(InstanceLayout {
        memory_reservation_bytes,
        memory_guard_bytes,
        memory_cow: raw.bool_or("sandbox.memory.cow.enable", false)?,
        instances_max,
    })
}

/// A number setting of at most `max`.
fn at_most(
    raw: &Settings,
    key: &str,
    default: u64,
    max: u64,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    let value = raw.parse_or(key, default, expected)?;
    if value > max {
        return Err(ConfigError::Invalid {
            key: key.into(),
            value: value.to_string(),
            expected,
        });
    }
    Ok(value)
}

/// A setting that must be a number above zero.
fn positive<T>(
    raw: &Settings,
    key: &str,
    default: T,
    expected: &'static str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialEq + Default + ToString,
{
    let value = raw.parse_or(key, default, expected)?;
    if value == T::default() {
        return Err(ConfigError::Invalid {
            key: key.into(),
            value: value.to_string(),
            expected,
        });
    }
    Ok(value)
}

/// The operator's egress policy for every connector of the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpWorkerPolicy {
    /// `sandbox.http.enabled` (default true): false rejects every connector that sets
    /// `sandbox.http.allow`.
    pub enabled: bool,
    /// `sandbox.http.allow.private.networks` (default false): whether connectors may dial
    /// loopback, private, link-local, CGNAT and other special-purpose addresses.
    pub allow_private_networks: bool,
    /// `sandbox.max.http.timeout.ms` (default 30000): the most a connector's
    /// `sandbox.http.timeout.ms` (connect, first byte, between bytes, each) may be.
    pub max_timeout: Duration,
    /// `sandbox.max.http.response.bytes` (default 64 MiB): the most a connector's
    /// `sandbox.http.response.max.bytes` may be.
    pub max_response_bytes: u64,
    /// `sandbox.max.http.concurrent.requests` (default 64): the most a connector's
    /// `sandbox.http.concurrent.requests` (per task) may be.
    pub max_concurrent_requests: usize,
    /// Whom HTTPS servers must be certified by: Mozilla's roots, plus the certificates of
    /// `sandbox.http.tls.ca.file` (PEM) when set, e.g. an internal CA.
    pub tls: TlsTrust,
}

impl Default for HttpWorkerPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_private_networks: false,
            max_timeout: Duration::from_millis(DEFAULT_HTTP_TIMEOUT_MS),
            max_response_bytes: DEFAULT_HTTP_RESPONSE_MAX_BYTES,
            max_concurrent_requests: DEFAULT_MAX_HTTP_CONCURRENT_REQUESTS,
            tls: TlsTrust::default(),
        }
    }
}

impl HttpWorkerPolicy {
    pub fn from_settings(raw: &Settings) -> Result<Self, ConfigError> {
        let max_timeout = raw.parse_or(
            "sandbox.max.http.timeout.ms",
            DEFAULT_HTTP_TIMEOUT_MS,
            "a positive number of milliseconds",
        )?;
        if max_timeout == 0 {
            return Err(ConfigError::Invalid {
                key: "sandbox.max.http.timeout.ms".into(),
                value: "0".into(),
                expected: "a positive number of milliseconds",
            });
        }
        let max_concurrent_requests = raw.parse_or(
            "sandbox.max.http.concurrent.requests",
            DEFAULT_MAX_HTTP_CONCURRENT_REQUESTS,
            "a positive number of requests",
        )?;
        if max_concurrent_requests == 0 {
            return Err(ConfigError::Invalid {
                key: "sandbox.max.http.concurrent.requests".into(),
                value: "0".into(),
                expected: "a positive number of requests",
            });
        }
        let tls = match raw.get("sandbox.http.tls.ca.file") {
            None => TlsTrust::default(),
            Some(file) => TlsTrust::with_ca_file(Path::new(file)).map_err(|reason| {
                ConfigError::Other(format!("sandbox.http.tls.ca.file=`{file}`: {reason}"))
            })?,
        };
        Ok(Self {
            enabled: raw.bool_or("sandbox.http.enabled", true)?,
            allow_private_networks: raw.bool_or("sandbox.http.allow.private.networks", false)?,
            max_timeout: Duration::from_millis(max_timeout),
            max_response_bytes: raw.parse_or(
                "sandbox.max.http.response.bytes",
                DEFAULT_HTTP_RESPONSE_MAX_BYTES,
                "a number of bytes",
            )?,
            max_concurrent_requests,
            tls,
        })
    }
}

/// Default `sandbox.max.fuel.per.call`: 100e9 units, about 50 s of a tight loop.
pub const DEFAULT_MAX_FUEL_PER_CALL: u64 = 100_000_000_000;
/// Default `sandbox.max.timeout.ms`: 5 minutes.
pub const DEFAULT_MAX_TIMEOUT_MS: u64 = 300_000;
/// Default `sandbox.max.memory.bytes`: 4 GiB.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 4 << 30;

/// Worker-wide maxima of the sandbox limits: a connector asking for more is rejected when it
/// is created, and worker defaults above them are a worker configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxMaxima {
    /// `sandbox.max.fuel.per.call`; None (written `0`) = no maximum, connectors may even run
    /// unmetered.
    pub fuel_per_call: Option<u64>,
    /// `sandbox.max.timeout.ms`.
    pub timeout: Duration,
    /// `sandbox.max.memory.bytes`.
    pub memory_max_bytes: usize,
}

impl Default for SandboxMaxima {
    fn default() -> Self {
        Self {
            fuel_per_call: Some(DEFAULT_MAX_FUEL_PER_CALL),
            timeout: Duration::from_millis(DEFAULT_MAX_TIMEOUT_MS),
            memory_max_bytes: DEFAULT_MAX_MEMORY_BYTES,
        }
    }
}

impl SandboxMaxima {
    /// Reads `sandbox.max.fuel.per.call` (0 = no maximum), `sandbox.max.timeout.ms` and
    /// `sandbox.max.memory.bytes`.
    pub fn from_settings(raw: &Settings) -> Result<Self, ConfigError> {
        let fuel = raw.parse_or(
            "sandbox.max.fuel.per.call",
            DEFAULT_MAX_FUEL_PER_CALL,
            "a number of fuel units (0 = no maximum)",
        )?;
        let timeout = raw.parse_or(
            "sandbox.max.timeout.ms",
            DEFAULT_MAX_TIMEOUT_MS,
            "a positive number of milliseconds",
        )?;
        if timeout == 0 {
            return Err(ConfigError::Invalid {
                key: "sandbox.max.timeout.ms".into(),
                value: "0".into(),
                expected: "a positive number of milliseconds",
            });
        }
        let memory = raw.parse_or(
            "sandbox.max.memory.bytes",
            DEFAULT_MAX_MEMORY_BYTES,
            "a number of bytes",
        )?;
        if memory < MIN_MEMORY_BYTES {
            return Err(ConfigError::Invalid {
                key: "sandbox.max.memory.bytes".into(),
                value: memory.to_string(),
                expected: "at least 1048576 bytes (1 MiB)",
            });
        }
        Ok(Self {
            fuel_per_call: (fuel > 0).then_some(fuel),
            timeout: Duration::from_millis(timeout),
            memory_max_bytes: memory,
        })
    }

    /// Checks `limits` against the maxima, naming the first limit that exceeds its maximum.
    pub fn check(&self, limits: &SandboxLimits) -> Result<(), ConfigError> {
        if let Some(max) = self.fuel_per_call {
            match limits.fuel_per_call {
                None => {
                    return Err(ConfigError::AboveMaximum {
                        key: "sandbox.fuel.per.call",
                        value: "0 (unmetered)".into(),
                        maximum: max,
                        max_key: "sandbox.max.fuel.per.call",
                    });
                }
                Some(fuel) if fuel > max => {
                    return Err(ConfigError::AboveMaximum {
                        key: "sandbox.fuel.per.call",
                        value: fuel.to_string(),
                        maximum: max,
                        max_key: "sandbox.max.fuel.per.call",
                    });
                }
                Some(_) => {}
            }
        }
        if limits.timeout > self.timeout {
            return Err(ConfigError::AboveMaximum {
                key: "sandbox.timeout.ms",
                value: limits.timeout.as_millis().to_string(),
                maximum: millis(self.timeout),
                max_key: "sandbox.max.timeout.ms",
            });
        }
        if limits.memory_max_bytes > self.memory_max_bytes {
            return Err(ConfigError::AboveMaximum {
                key: "sandbox.memory.max.bytes",
                value: limits.memory_max_bytes.to_string(),
                maximum: self.memory_max_bytes as u64,
                max_key: "sandbox.max.memory.bytes",
            });
        }
        Ok(())
    }
}

/// The smallest memory cap accepted: below this not even a small guest instantiates.
const MIN_MEMORY_BYTES: usize = 1 << 20;

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The worker's identity in statuses (`worker_id`), as Kafka Connect's `<host>:<port>`.
pub const DEFAULT_WORKER_ID: &str = "127.0.0.1:8083";

/// Kafka Connect's default `listeners`.
pub const DEFAULT_LISTENER: &str = "http://127.0.0.1:8083";

/// The host and port of the first of the worker's `listeners` (`http://host:port`,
/// `http://:port` for all interfaces); port 0 picks any free port.
pub fn listener_address(listeners: Option<&str>) -> Result<(String, u16), ConfigError> {
    let listeners = listeners.unwrap_or(DEFAULT_LISTENER);
    let invalid = || ConfigError::Invalid {
        key: "listeners".into(),
        value: listeners.into(),
        expected: "http://host:port",
    };
    let first = listeners.split(',').next().unwrap_or("").trim();
    let authority = first.strip_prefix("http://").ok_or_else(invalid)?;
    let authority = authority.trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    if host.contains(['/', '@', ' ']) {
        return Err(invalid());
    }
    Ok((host.to_owned(), port))
}

impl WorkerConfig {
    pub fn from_settings(raw: Settings) -> Result<Self, ConfigError> {
        // The binary always sets `data.dir` ([`data_dir_beside`] the worker file when the file
        // does not); this default is for embedders that do not.
        let data_dir = PathBuf::from(raw.string("data.dir").unwrap_or("/tmp/wasm-connect"));
        let log = match raw.string("bootstrap.servers") {
            Some(servers) => LogBackend::Kafka {
                bootstrap_servers: servers.to_owned(),
            },
            None => LogBackend::Embedded {
                dir: raw
                    .string("log.dir")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| data_dir.join("log")),
            },
        };
        let offset_file = raw
            .string("offset.storage.file.filename")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("connect.offsets"));
        let sandbox = sandbox_limits(
            &raw,
            SandboxLimits {
                fuel_per_call: Some(DEFAULT_FUEL_PER_CALL),
                timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
                memory_max_bytes: DEFAULT_MEMORY_MAX_BYTES,
            },
        )?;
        let sandbox_max = SandboxMaxima::from_settings(&raw)?;
        sandbox_max.check(&sandbox)?;
        let http = HttpWorkerPolicy::from_settings(&raw)?;
        let tcp = super::tcp::TcpWorkerPolicy::from_settings(&raw)?;
        let cache_dir = raw
            .string("cache.dir")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("cache"));
        let plugin_path: Vec<PathBuf> = raw
            .list("plugin.path")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        let fs = fs_policy(
            &raw,
            &data_dir,
            &log,
            &cache_dir,
            &offset_file,
            &plugin_path,
        )?;
        let worker_id = match raw.string("rest.advertised.host.name") {
            Some(host) => format!(
                "{host}:{}",
                raw.string("rest.advertised.port").unwrap_or("8083")
            ),
            None => DEFAULT_WORKER_ID.to_owned(),
        };
        Ok(Self {
            listener: listener_address(raw.string("listeners"))?,
            worker_id,
            topic_tracking_enable: raw.bool_or("topic.tracking.enable", true)?,
            topic_tracking_allow_reset: raw.bool_or("topic.tracking.allow.reset", true)?,
            consumer_max_poll_records: positive(
                &raw,
                "consumer.max.poll.records",
                500,
                "a positive number of records",
            )?,
            source_idle_backoff_max: {
                let max = raw.millis_or("source.idle.backoff.max.ms", 1_000)?;
                if max.is_zero() {
                    return Err(ConfigError::Invalid {
                        key: "source.idle.backoff.max.ms".into(),
                        value: "0".into(),
                        expected: "a positive number of milliseconds",
                    });
                }
                max
            },
            log_format: LogFormat::from_settings(&raw)?,
            config_providers: super::providers::ConfigProviders::from_settings(&raw)?,
            tenancy: crate::tenancy::TenancySettings::from_settings(&raw, &data_dir)?,
            audit_log: match raw.get("audit.log.file").map(|file| file.trim()) {
                Some("") => None,
                Some(file) => Some(PathBuf::from(file)),
                None => Some(data_dir.join("audit.log")),
            },
            metrics_window: crate::metrics::WindowSettings {
                window: {
                    let window = raw.millis_or("metrics.sample.window.ms", 30_000)?;
                    if window.is_zero() {
                        return Err(ConfigError::Invalid {
                            key: "metrics.sample.window.ms".into(),
                            value: "0".into(),
                            expected: "a positive number of milliseconds",
                        });
                    }
                    window
                },
                samples: positive(
                    &raw,
                    "metrics.num.samples",
                    2,
                    "a positive number of samples",
                )?,
            },
            log_cache_bytes: positive(
                &raw,
                "log.cache.bytes",
                DEFAULT_LOG_CACHE_BYTES,
                "a positive number of bytes",
            )?,
            http,
            tcp,
            fs,
            host_limits: host_limits(&raw)?,
            task_limits: TaskLimits::from_settings(&raw)?,
            instance_layout: instance_layout(&raw)?,
            metering: true,
            metrics_recording: true,
            throttle_after: {
                let ms = raw.millis_or("sandbox.throttle.after.ms", DEFAULT_THROTTLE_AFTER_MS)?;
                (!ms.is_zero()).then_some(ms)
            },
            log,
            offset_file,
            offset_flush_interval: raw.millis_or("offset.flush.interval.ms", 60_000)?,
            offset_flush_timeout: raw.millis_or("offset.flush.timeout.ms", 5_000)?,
            task_shutdown_timeout: raw.millis_or("task.shutdown.graceful.timeout.ms", 5_000)?,
            plugin_path,
            key_converter: converter_spec(&raw, "key.converter", DEFAULT_CONVERTER),
            value_converter: converter_spec(&raw, "value.converter", DEFAULT_CONVERTER),
            header_converter: converter_spec(&raw, "header.converter", DEFAULT_HEADER_CONVERTER),
            plugin_max_bytes: raw.parse_or(
                "plugin.max.bytes",
                DEFAULT_PLUGIN_MAX_BYTES,
                "a number of bytes",
            )?,
            function_cache_max_bytes: raw.parse_or(
                "cache.functions.max.bytes",
                crate::runtime::DEFAULT_FUNCTION_CACHE_MAX_BYTES,
                "a number of bytes (0 turns the cache off)",
            )?,
            baseline_min_bytes: {
                const KEY: &str = "plugin.compile.baseline.min.bytes";
                const EXPECTED: &str = "a number of bytes (-1 turns the baseline compiler off)";
                match raw.parse_or(
                    KEY,
                    crate::runtime::DEFAULT_BASELINE_MIN_BYTES as i64,
                    EXPECTED,
                )? {
                    -1 => None,
                    min => Some(usize::try_from(min).map_err(|_| ConfigError::Invalid {
                        key: KEY.to_owned(),
                        value: min.to_string(),
                        expected: EXPECTED,
                    })?),
                }
            },
            cache_dir,
            data_dir,
            sandbox,
            sandbox_max,
            raw,
        })
    }

    /// The `worker_id` of a worker whose REST API is bound to `bound`, as Kafka Connect
    /// derives its advertised URL: `rest.advertised.host.name` or else the listener's host
    /// (the machine's name for a wildcard address), and `rest.advertised.port` or else the
    /// bound port.
    pub fn advertised_worker_id(&self, bound: std::net::SocketAddr) -> String {
        let host = match self.raw.string("rest.advertised.host.name") {
            Some(host) => host.to_owned(),
            None if bound.ip().is_unspecified() => {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|name| name.trim().to_owned())
                    .filter(|name| !name.is_empty())
                    .unwrap_or_else(|| bound.ip().to_string())
            }
            None => bound.ip().to_string(),
        };
        let port = self
            .raw
            .string("rest.advertised.port")
            .map_or_else(|| bound.port().to_string(), str::to_owned);
        format!("{host}:{port}")
    }

    /// Where plugins uploaded over REST are stored: `<data.dir>/uploaded-plugins`.
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploaded-plugins")
    }

    /// Client properties for the Kafka backend: `bootstrap.servers` and the worker's
    /// `producer.*`, `consumer.*`, `admin.*` prefixes.
    pub fn client_settings(&self, prefix: &str) -> Settings {
        self.raw.with_prefix(prefix)
    }
}

/// `log.format`: human-readable lines, or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// `log.format` of these settings (`text` or `json`, in any case).
    pub fn from_settings(raw: &Settings) -> Result<Self, ConfigError> {
        match raw.string("log.format").map(str::trim) {
            None => Ok(Self::Text),
            Some(value) if value.eq_ignore_ascii_case("text") => Ok(Self::Text),
            Some(value) if value.eq_ignore_ascii_case("json") => Ok(Self::Json),
            Some(value) => Err(ConfigError::Invalid {
                key: "log.format".into(),
                value: value.into(),
                expected: "text or json",
            }),
        }
    }
}

impl WorkerConfig {
    /// The settings of a worker properties file, with `data.dir` defaulting to
    /// [`data_dir_beside`] the file (and logged). What `wasm-connect standalone`
    /// and `wasm-connect topics` read.
    pub fn read_file(worker_file: &Path) -> anyhow::Result<Self> {
        let mut settings = super::properties::read_properties(worker_file)?;
        if !settings.contains_key("data.dir") {
            let dir = data_dir_beside(worker_file);
            tracing::info!(data_dir = %dir.display(), "data.dir is not set; using the directory beside the worker file.");
            settings.insert("data.dir".into(), dir.display().to_string());
        }
        Self::from_settings(settings).map_err(|error| {
            anyhow::Error::new(error)
                .context(format!("invalid worker config `{}`", worker_file.display()))
        })
    }

    /// Where a running worker writes the URL its REST API answers at, for `wasm-connect
    /// topics` to find it.
    pub fn rest_url_file(&self) -> PathBuf {
        self.data_dir.join("rest.url")
    }

    /// The URL of this worker's REST API for a client on this machine: what the running
    /// worker wrote in [`Self::rest_url_file`], else from `listeners`.
    pub fn local_rest_url(&self) -> String {
        if let Ok(url) = std::fs::read_to_string(self.rest_url_file())
            && !url.trim().is_empty()
        {
            return url.trim().to_owned();
        }
        let (host, port) = &self.listener;
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => local_url(std::net::SocketAddr::new(ip, *port)),
            Err(_) => format!("http://{host}:{port}"),
        }
    }
}

/// `http://` and a bound address a local client can reach (a wildcard becomes loopback).
pub fn local_url(bound: std::net::SocketAddr) -> String {
    let mut address = bound;
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{address}")
}

/// The `data.dir` of a worker started from `worker_file` that does not set one: beside the
/// file, named after it (`config/worker.properties` → `config/worker.data`), so workers
/// started from different files never share state by accident.
pub fn data_dir_beside(worker_file: &Path) -> PathBuf {
    let stem = worker_file.file_stem().map_or_else(
        || "worker".into(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    worker_file.with_file_name(format!("{stem}.data"))
}

/// The default `plugin.max.bytes`: 256 MiB, room for Python components (tens of MiB).
pub const DEFAULT_PLUGIN_MAX_BYTES: usize = 256 * 1024 * 1024;

/// Kafka Connect requires `key.converter`/`value.converter`; this host defaults to JSON, the
/// converter every sample configuration uses.
pub const DEFAULT_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
pub const DEFAULT_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// `<key>` and its `<key>.*` settings.
pub fn converter_spec(raw: &Settings, key: &str, default: &str) -> ConverterSpec {
    ConverterSpec {
        class: raw.string(key).unwrap_or(default).to_owned(),
        settings: raw.with_prefix(&format!("{key}.")),
    }
}

/// Reads `sandbox.fuel.per.call` (0 = unmetered), `sandbox.timeout.ms` and
/// `sandbox.memory.max.bytes` over `defaults`.
pub fn sandbox_limits(
    raw: &Settings,
    defaults: SandboxLimits,
) -> Result<SandboxLimits, ConfigError> {
    let fuel = raw.parse_or(
        "sandbox.fuel.per.call",
        defaults.fuel_per_call.unwrap_or(0),
        "a number of fuel units (0 = unmetered)",
    )?;
    let timeout = raw.parse_or(
        "sandbox.timeout.ms",
        millis(defaults.timeout),
        "a positive number of milliseconds",
    )?;
    if timeout == 0 {
        return Err(ConfigError::Invalid {
            key: "sandbox.timeout.ms".into(),
            value: "0".into(),
            expected: "a positive number of milliseconds",
        });
    }
    let memory = raw.parse_or(
        "sandbox.memory.max.bytes",
        defaults.memory_max_bytes,
        "a number of bytes",
    )?;
    if memory < MIN_MEMORY_BYTES {
        return Err(ConfigError::Invalid {
            key: "sandbox.memory.max.bytes".into(),
            value: memory.to_string(),
            expected: "at least 1048576 bytes (1 MiB)",
        });
    }
    Ok(SandboxLimits {
        fuel_per_call: (fuel > 0).then_some(fuel),
        timeout: Duration::from_millis(timeout),
        memory_max_bytes: memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_parsed() {
        let parse =
            |listeners| listener_address(listeners).map(|(host, port)| format!("{host} {port}"));
        assert_eq!(parse(None).unwrap(), "127.0.0.1 8083");
        assert_eq!(parse(Some("http://:8084")).unwrap(), "0.0.0.0 8084");
        assert_eq!(
            parse(Some("http://localhost:0, http://other:1")).unwrap(),
            "localhost 0"
        );
        assert_eq!(parse(Some("http://[::1]:8083/")).unwrap(), "::1 8083");
        assert!(parse(Some("https://a:1")).is_err());
        assert!(parse(Some("http://a")).is_err());
    }

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_memory_layout_is_bounded_and_the_instance_maximum_positive() {
        let layout = |pairs: &[(&str, &str)]| instance_layout(&settings(pairs));
        let default = layout(&[]).unwrap();
        assert_eq!(default, InstanceLayout::default());
        let dense = layout(&[
            ("sandbox.memory.reservation.bytes", "0"),
            ("sandbox.memory.guard.bytes", "65536"),
            ("sandbox.memory.cow.enable", "true"),
            ("sandbox.instances.max", "20000"),
        ])
        .unwrap();
        assert_eq!(
            (dense.memory_reservation_bytes, dense.memory_guard_bytes),
            (0, 65536)
        );
        assert!(dense.memory_cow);
        assert_eq!(dense.instances_max, Some(20_000));
        for (key, value) in [
            ("sandbox.memory.guard.bytes", "5000000000"),
            ("sandbox.memory.reservation.bytes", "100000000000"),
            ("sandbox.instances.max", "0"),
            ("sandbox.memory.cow.enable", "maybe"),
        ] {
            let error = layout(&[(key, value)]).unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }

    #[test]
    fn the_baseline_compiler_threshold_defaults_to_a_mebibyte_and_minus_one_turns_it_off() {
        let worker = |pairs: &[(&str, &str)]| {
            let mut pairs = pairs.to_vec();
            pairs.push(("data.dir", "/d"));
            WorkerConfig::from_settings(settings(&pairs))
        };
        assert_eq!(worker(&[]).unwrap().baseline_min_bytes, Some(1 << 20));
        let key = "plugin.compile.baseline.min.bytes";
        assert_eq!(worker(&[(key, "0")]).unwrap().baseline_min_bytes, Some(0));
        assert_eq!(worker(&[(key, "-1")]).unwrap().baseline_min_bytes, None);
        for bad in ["1MB", "-2"] {
            let error = worker(&[(key, bad)]).unwrap_err().to_string();
            assert!(
                error.contains(key) && error.contains("-1"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn the_default_data_dir_is_beside_the_worker_file() {
        assert_eq!(
            data_dir_beside(Path::new("config/connect-standalone.properties")),
            PathBuf::from("config/connect-standalone.data")
        );
        assert_eq!(
            data_dir_beside(Path::new("worker.properties")),
            PathBuf::from("worker.data")
        );
        assert_eq!(
            data_dir_beside(Path::new("/etc/connect/worker")),
            PathBuf::from("/etc/connect/worker.data")
        );
    }

    #[test]
    fn the_worker_id_is_the_bound_address_unless_advertised() {
        let bound: std::net::SocketAddr = "127.0.0.1:41234".parse().unwrap();
        let plain = WorkerConfig::from_settings(settings(&[("data.dir", "/d")])).unwrap();
        assert_eq!(plain.advertised_worker_id(bound), "127.0.0.1:41234");
        let host = WorkerConfig::from_settings(settings(&[
            ("data.dir", "/d"),
            ("rest.advertised.host.name", "connect-1.example"),
        ]))
        .unwrap();
        assert_eq!(host.advertised_worker_id(bound), "connect-1.example:41234");
        let both = WorkerConfig::from_settings(settings(&[
            ("data.dir", "/d"),
            ("rest.advertised.host.name", "connect-1.example"),
            ("rest.advertised.port", "443"),
        ]))
        .unwrap();
        assert_eq!(both.advertised_worker_id(bound), "connect-1.example:443");
        // A wildcard listener is advertised under the machine's name, never 0.0.0.0.
        let wildcard: std::net::SocketAddr = "0.0.0.0:8083".parse().unwrap();
        assert!(!plain.advertised_worker_id(wildcard).starts_with("0.0.0.0"));
    }

    #[test]
    fn log_format_is_text_unless_json_is_asked_for() {
        let format = |pairs: &[(&str, &str)]| LogFormat::from_settings(&settings(pairs));
        assert_eq!(format(&[]).unwrap(), LogFormat::Text);
        assert_eq!(
            format(&[("log.format", " JSON ")]).unwrap(),
            LogFormat::Json
        );
        assert_eq!(format(&[("log.format", "text")]).unwrap(), LogFormat::Text);
        let error = format(&[("log.format", "logfmt")]).unwrap_err().to_string();
        assert!(
            error.contains("log.format") && error.contains("text or json"),
            "{error}"
        );
    }

    #[test]
    fn embedded_log_is_the_default_and_kafka_when_bootstrap_servers_is_set() {
        let worker = WorkerConfig::from_settings(settings(&[("data.dir", "/d")])).unwrap();
        assert_eq!(
            worker.log,
            LogBackend::Embedded {
                dir: "/d/log".into()
            }
        );
        assert_eq!(worker.offset_file, PathBuf::from("/d/connect.offsets"));
        assert_eq!(worker.offset_flush_interval, Duration::from_secs(60));
        let worker =
            WorkerConfig::from_settings(settings(&[("bootstrap.servers", "h:9092")])).unwrap();
        assert_eq!(
            worker.log,
            LogBackend::Kafka {
                bootstrap_servers: "h:9092".into()
            }
        );
    }

    #[test]
    fn converter_settings_are_taken_from_their_prefix() {
        let worker = WorkerConfig::from_settings(settings(&[
            ("value.converter", "StringConverter"),
            ("value.converter.converter.encoding", "UTF-8"),
            ("key.converter.schemas.enable", "false"),
        ]))
        .unwrap();
        assert_eq!(worker.value_converter.class, "StringConverter");
        assert_eq!(
            worker
                .value_converter
                .settings
                .get("converter.encoding")
                .unwrap(),
            "UTF-8"
        );
        assert_eq!(worker.key_converter.class, DEFAULT_CONVERTER);
        assert_eq!(
            worker.key_converter.settings.get("schemas.enable").unwrap(),
            "false"
        );
    }

    #[test]
    fn sandbox_limits_reject_nonsense() {
        let error = WorkerConfig::from_settings(settings(&[("sandbox.memory.max.bytes", "12")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("sandbox.memory.max.bytes"), "{error}");
    }

    #[test]
    fn sandbox_maxima_default_to_generous_finite_values() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        assert_eq!(worker.sandbox_max, SandboxMaxima::default());
        assert_eq!(worker.sandbox_max.fuel_per_call, Some(100_000_000_000));
        assert_eq!(worker.sandbox_max.timeout, Duration::from_secs(300));
        assert_eq!(worker.sandbox_max.memory_max_bytes, 4 << 30);
        let worker = WorkerConfig::from_settings(settings(&[
            ("sandbox.max.fuel.per.call", "0"),
            ("sandbox.fuel.per.call", "0"),
        ]))
        .unwrap();
        assert_eq!(worker.sandbox_max.fuel_per_call, None);
        assert_eq!(worker.sandbox.fuel_per_call, None);
    }

    #[test]
    fn worker_defaults_above_the_maxima_are_a_config_error() {
        let error = WorkerConfig::from_settings(settings(&[
            ("sandbox.memory.max.bytes", "8589934592"),
            ("sandbox.max.memory.bytes", "4294967296"),
        ]))
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "sandbox.memory.max.bytes=8589934592 exceeds the worker maximum 4294967296 (sandbox.max.memory.bytes)"
        );
        let error = WorkerConfig::from_settings(settings(&[("sandbox.max.timeout.ms", "1000")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "sandbox.timeout.ms=30000 exceeds the worker maximum 1000 (sandbox.max.timeout.ms)"
        );
        let error = WorkerConfig::from_settings(settings(&[("sandbox.fuel.per.call", "0")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "sandbox.fuel.per.call=0 (unmetered) exceeds the worker maximum 100000000000 (sandbox.max.fuel.per.call)"
        );
    }

    #[test]
    fn sandbox_maxima_reject_nonsense() {
        for (key, value) in [
            ("sandbox.max.timeout.ms", "0"),
            ("sandbox.max.memory.bytes", "1024"),
            ("sandbox.max.fuel.per.call", "lots"),
        ] {
            let error = WorkerConfig::from_settings(settings(&[(key, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(key), "{error}");
        }
    }
}
