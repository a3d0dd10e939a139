//! Connector configurations: reading them from `.properties` or `.json` files (both of Kafka
//! Connect's JSON shapes) and the framework keys the host acts on (`name`, `connector.class`,
//! `tasks.max`, `topics`, converters, `errors.*`, `sandbox.*`, `restart.*`).

use std::{path::Path, sync::Arc, time::Duration};

use super::{
    ConfigError, Settings, SettingsExt,
    worker::{ConverterSpec, WorkerConfig, converter_spec, millis, sandbox_limits},
};
use super::{
    egress::{DEFAULT_HTTP_CONCURRENT_REQUESTS, EgressPolicy, parse_allow_list},
    providers::Secrets,
    sandbox::SandboxLimits,
};

/// The state a connector is created in (`initial_state`, KIP-980).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    #[default]
    Running,
    Paused,
    Stopped,
}

impl InitialState {
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(Self::Running),
            "PAUSED" => Ok(Self::Paused),
            "STOPPED" => Ok(Self::Stopped),
            _ => Err(ConfigError::Invalid {
                key: "initial_state".into(),
                value: value.into(),
                expected: "RUNNING, PAUSED or STOPPED",
            }),
        }
    }
}

/// What the user asked a connector and its tasks to do (Kafka Connect's `TargetState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

impl From<InitialState> for TargetState {
    fn from(state: InitialState) -> Self {
        match state {
            InitialState::Running => Self::Started,
            InitialState::Paused => Self::Paused,
            InitialState::Stopped => Self::Stopped,
        }
    }
}

/// A connector as submitted on the command line or over REST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSubmission {
    pub name: String,
    pub config: Settings,
    pub initial_state: InitialState,
}

impl ConnectorSubmission {
    /// Reads a connector file: Java properties, or JSON as a `POST /connectors` body
    /// (`{"name", "config", "initial_state"}`) or a flat `PUT /connectors/{name}/config` map.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let is_json = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        if !is_json {
            return Self::from_config(
                super::properties::read_properties(path)?,
                InitialState::Running,
            );
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| ConfigError::Parse {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
        Self::from_json(&json).map_err(|error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    }

    /// Either JSON shape Kafka Connect accepts.
    pub fn from_json(json: &serde_json::Value) -> Result<Self, ConfigError> {
        let object = json
            .as_object()
            .ok_or_else(|| ConfigError::Other("a connector must be a JSON object".into()))?;
        if let Some(config) = object.get("config") {
            let mut settings = json_settings(config)?;
            let initial_state = match object.get("initial_state") {
                None | Some(serde_json::Value::Null) => InitialState::Running,
                Some(serde_json::Value::String(state)) => InitialState::parse(state)?,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        key: "initial_state".into(),
                        value: other.to_string(),
                        expected: "RUNNING, PAUSED or STOPPED",
                    });
                }
            };
            if let Some(name) = object.get("name").and_then(|name| name.as_str()) {
                let name = name.trim();
                match settings.get("name") {
                    Some(inner) if inner != name => {
                        return Err(ConfigError::Other(format!(
                            "Connector name configuration ({inner}) doesn't match connector name in the URL ({name})"
                        )));
                    }
                    _ => {
                        settings.insert("name".into(), name.to_owned());
                    }
                }
            }
            Self::from_config(settings, initial_state)
        } else {
            Self::from_config(json_settings(json)?, InitialState::Running)
        }
    }

    pub fn from_config(config: Settings, initial_state: InitialState) -> Result<Self, ConfigError> {
        let name = config.required("name")?.to_owned();
        if name.chars().any(char::is_control) {
            return Err(ConfigError::Invalid {
                key: "name".into(),
                value: name,
                expected: "a name without control characters",
            });
        }
        Ok(Self {
            name,
            config,
            initial_state,
        })
    }
}

/// A flat JSON object of settings; numbers and booleans become strings as Jackson coerces them.
pub fn json_settings(json: &serde_json::Value) -> Result<Settings, ConfigError> {
    let object = json.as_object().ok_or_else(|| {
        ConfigError::Other("connector config must be a JSON object of strings".into())
    })?;
    object
        .iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(number) => number.to_string(),
                serde_json::Value::Bool(flag) => flag.to_string(),
                serde_json::Value::Null => {
                    return Err(ConfigError::Other(
                        "Null value can not be supplied as the configuration value.".into(),
                    ));
                }
                _ => {
                    return Err(ConfigError::Invalid {
                        key: key.clone(),
                        value: value.to_string(),
                        expected: "a string, number or boolean",
                    });
                }
            };
            Ok((key.clone(), value))
        })
        .collect()
}

/// How tolerant a connector is of bad records (`errors.tolerance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorTolerance {
    None,
    All,
}

/// `errors.retry.timeout`: how long a failed converter or transform is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryTimeout {
    /// `0` (the default): no retries.
    None,
    /// `-1`: retry forever.
    Infinite,
    Within(Duration),
}

/// How a task handles records that fail a stage (`errors.*`, Kafka Connect's KIP-298).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorHandling {
    pub tolerance: ErrorTolerance,
    pub retry_timeout: RetryTimeout,
    /// `errors.retry.delay.max.ms`, default 60 s.
    pub retry_delay_max: Duration,
    /// `errors.log.enable`: log every failure with its context.
    pub log_enable: bool,
    /// `errors.log.include.messages`: include the record in those logs.
    pub log_include_messages: bool,
}

impl ErrorHandling {
    fn from_settings(settings: &Settings, tolerance: ErrorTolerance) -> Result<Self, ConfigError> {
        let retry_timeout = match settings.parse_or::<i64>(
            "errors.retry.timeout",
            DEFAULT_ERRORS_RETRY_TIMEOUT_MS,
            "a number of milliseconds (0 for no retries, -1 to retry forever)",
        )? {
            0 => RetryTimeout::None,
            -1 => RetryTimeout::Infinite,
            ms if ms > 0 => RetryTimeout::Within(Duration::from_millis(ms as u64)),
            ms => {
                return Err(ConfigError::Invalid {
                    key: "errors.retry.timeout".into(),
                    value: ms.to_string(),
                    expected: "a number of milliseconds (0 for no retries, -1 to retry forever)",
                });
            }
        };
        Ok(Self {
            tolerance,
            retry_timeout,
            retry_delay_max: settings.millis_or(
                "errors.retry.delay.max.ms",
                DEFAULT_ERRORS_RETRY_DELAY_MAX_MS,
            )?,
            log_enable: settings.bool_or("errors.log.enable", false)?,
            log_include_messages: settings.bool_or("errors.log.include.messages", false)?,
        })
    }
}

/// What happens to a task that failed (`restart.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// `none`, Kafka Connect's behaviour: a failed task stays FAILED until an operator acts.
    #[default]
    None,
    /// `on-failure`: a failed task is restarted (a fresh instance, same task config) after a
    /// backoff.
    OnFailure(Backoff),
}

/// Exponential backoff between restarts of one task (`restart.backoff.initial.ms`,
/// `restart.backoff.max.ms`).
///
/// The delay doubles with each consecutive failure of the task, from `initial` up to `max`.
/// A failure counts as the first again when the task had been running for longer than `max`
/// (since it last reported RUNNING after its start or restart): a task that stays up longer
/// than the longest delay is considered healed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

/// Default `tasks.max`.
pub const DEFAULT_TASKS_MAX: u32 = 1;
/// Default `errors.retry.timeout`: no retries.
pub const DEFAULT_ERRORS_RETRY_TIMEOUT_MS: i64 = 0;
/// Default `errors.retry.delay.max.ms`.
pub const DEFAULT_ERRORS_RETRY_DELAY_MAX_MS: u64 = 60_000;
/// Default `errors.deadletterqueue.topic.replication.factor`.
pub const DEFAULT_DLQ_REPLICATION_FACTOR: i16 = 3;

/// Default `restart.backoff.initial.ms`.
pub const DEFAULT_RESTART_BACKOFF_INITIAL_MS: u64 = 1_000;
/// Default `restart.backoff.max.ms`.
pub const DEFAULT_RESTART_BACKOFF_MAX_MS: u64 = 60_000;

impl Backoff {
    /// The delay before restart `attempt` (1 for the first consecutive failure).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1_u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

impl RestartPolicy {
    /// Reads `restart.policy` (`none` or `on-failure`), `restart.backoff.initial.ms` and
    /// `restart.backoff.max.ms`. The backoff keys are checked even under `none`.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        const EXPECTED: &str = "a positive number of milliseconds";
        let initial = settings.parse_or(
            "restart.backoff.initial.ms",
            DEFAULT_RESTART_BACKOFF_INITIAL_MS,
            EXPECTED,
        )?;
        if initial == 0 {
            return Err(ConfigError::Invalid {
                key: "restart.backoff.initial.ms".into(),
                value: "0".into(),
                expected: EXPECTED,
            });
        }
        let max = settings.parse_or(
            "restart.backoff.max.ms",
            DEFAULT_RESTART_BACKOFF_MAX_MS.max(initial),
            EXPECTED,
        )?;
        if max < initial {
            return Err(ConfigError::Invalid {
                key: "restart.backoff.max.ms".into(),
                value: max.to_string(),
                expected: "at least restart.backoff.initial.ms",
            });
        }
        let backoff = Backoff {
            initial: Duration::from_millis(initial),
            max: Duration::from_millis(max),
        };
        match settings.string("restart.policy").unwrap_or("none") {
            policy if policy.eq_ignore_ascii_case("none") => Ok(Self::None),
            policy if policy.eq_ignore_ascii_case("on-failure") => Ok(Self::OnFailure(backoff)),
            other => Err(ConfigError::Invalid {
                key: "restart.policy".into(),
                value: other.into(),
                expected: "none or on-failure",
            }),
        }
    }
}

/// The framework keys of a connector, validated.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub class: String,
    /// `connector.plugin.version`, if pinned.
    pub plugin_version: Option<String>,
    pub tasks_max: u32,
    pub topics: Vec<String>,
    pub topics_regex: Option<String>,
    pub key_converter: ConverterSpec,
    pub value_converter: ConverterSpec,
    pub header_converter: ConverterSpec,
    pub errors_tolerance: ErrorTolerance,
    /// All of `errors.*` but the dead letter queue (its tolerance is `errors_tolerance`).
    pub errors: ErrorHandling,
    pub dlq_topic: Option<String>,
    pub dlq_context_headers: bool,
    pub dlq_replication_factor: i16,
    /// Within the worker's `sandbox.max.*`.
    pub sandbox: SandboxLimits,
    /// Outgoing HTTP the connector's instances may make (`sandbox.http.*`); None = none.
    pub egress: Option<Arc<EgressPolicy>>,
    /// Outgoing TCP the connector's instances may open (`sandbox.tcp.*`); None = none.
    pub tcp: Option<Arc<super::tcp::TcpPolicy>>,
    pub restart_policy: RestartPolicy,
    /// Everything the connector gets: as written, with `${provider:path:key}` references
    /// resolved.
    pub settings: Settings,
    /// Everything as written (references unresolved): what is stored and shown.
    pub raw: Settings,
    /// What the references brought in, never to be stored, logged or echoed.
    pub secrets: Arc<Secrets>,
    /// The topic prefixes its records must go to (its tenant's namespace); None = any topic.
    pub topic_namespace: Option<Arc<[String]>>,
    /// Its tenant's filesystem policy; None = the worker's.
    pub fs_policy: Option<Arc<super::filesystem::FsPolicy>>,
    /// Its tenant (with tenancy on), for log fields.
    pub tenant: Option<Arc<str>>,
}

impl ConnectorConfig {
    /// Parses and checks the framework keys (the transform chain is built from `settings` by
    /// whoever runs it: `TransformChain::from_settings_with`).
    pub fn parse(settings: Settings, worker: &WorkerConfig) -> Result<Self, ConfigError> {
        let name = settings.required("name")?.to_owned();
        let class = settings.required("connector.class")?.to_owned();
        let tasks_max: u32 =
            settings.parse_or("tasks.max", DEFAULT_TASKS_MAX, "an integer of at least 1")?;
        if tasks_max == 0 {
            return Err(ConfigError::Invalid {
                key: "tasks.max".into(),
                value: "0".into(),
                expected: "an integer of at least 1",
            });
        }
        let errors_tolerance = match settings.string("errors.tolerance").unwrap_or("none") {
            tolerance if tolerance.eq_ignore_ascii_case("none") => ErrorTolerance::None,
            tolerance if tolerance.eq_ignore_ascii_case("all") => ErrorTolerance::All,
            other => {
                return Err(ConfigError::Invalid {
                    key: "errors.tolerance".into(),
                    value: other.into(),
                    expected: "none or all",
                });
            }
        };
        let sandbox = sandbox_limits(&settings, worker.sandbox)?;
        worker.sandbox_max.check(&sandbox)?;
        let egress = egress_policy(&settings, worker)?;
        let tcp = super::tcp::tcp_policy(&settings, &worker.tcp)?;
        for key in ["sandbox.fs.read", "sandbox.fs.write"] {
            for dir in settings.list(key) {
                worker
                    .fs
                    .check(key, Path::new(&dir))
                    .map_err(ConfigError::Other)?;
            }
        }
        let inherit = |key: &str, worker_spec: &ConverterSpec| {
            if settings.string(key).is_some() {
                converter_spec(&settings, key, &worker_spec.class)
            } else {
                worker_spec.clone()
            }
        };
        Ok(Self {
            plugin_version: settings
                .string("connector.plugin.version")
                .map(str::to_owned),
            topics: settings.list("topics"),
            topics_regex: settings.string("topics.regex").map(str::to_owned),
            key_converter: inherit("key.converter", &worker.key_converter),
            value_converter: inherit("value.converter", &worker.value_converter),
            header_converter: inherit("header.converter", &worker.header_converter),
            errors_tolerance,
            errors: ErrorHandling::from_settings(&settings, errors_tolerance)?,
            dlq_topic: settings
                .string("errors.deadletterqueue.topic.name")
                .map(str::to_owned),
            dlq_context_headers: settings
                .bool_or("errors.deadletterqueue.context.headers.enable", false)?,
            dlq_replication_factor: settings.parse_or(
                "errors.deadletterqueue.topic.replication.factor",
                DEFAULT_DLQ_REPLICATION_FACTOR,
                "a replication factor (-1 for the broker default)",
            )?,
            sandbox,
            egress,
            tcp,
            restart_policy: RestartPolicy::from_settings(&settings)?,
            name,
            class,
            tasks_max,
            raw: settings.clone(),
            settings,
            secrets: Arc::default(),
            topic_namespace: None,
            fs_policy: None,
            tenant: None,
        })
    }

    /// The filesystem policy its directory grants are held to.
    pub fn fs<'a>(&'a self, worker: &'a WorkerConfig) -> &'a super::filesystem::FsPolicy {
        self.fs_policy.as_deref().unwrap_or(&worker.fs)
    }

    /// [`Self::parse`] of `raw` with its config-provider references resolved by the worker's
    /// `config.providers` (and `${secret:name}` by `tenant_secrets`, for a tenant's
    /// connector); an error shows references, never what they resolved to.
    pub fn parse_resolving(
        raw: Settings,
        worker: &WorkerConfig,
        tenant_secrets: Option<&super::providers::SecretLookup<'_>>,
    ) -> Result<Self, ConfigError> {
        let resolved = worker
            .config_providers
            .resolve_with(&raw, &worker.fs, tenant_secrets)?;
        let secrets = resolved.secrets;
        let mut config =
            Self::parse(resolved.settings, worker).map_err(|error| error.concealed(&secrets))?;
        config.raw = raw;
        config.secrets = secrets;
        Ok(config)
    }

    /// Checks the sink-only rules: exactly one of `topics` and `topics.regex`, and a DLQ topic
    /// that is not one of the consumed topics.
    pub fn validate_sink(&self) -> Result<(), ConfigError> {
        match (self.topics.is_empty(), &self.topics_regex) {
            (false, Some(_)) => {
                return Err(ConfigError::Other(
                    "topics and topics.regex are mutually exclusive options, but both are set."
                        .into(),
                ));
            }
            (true, None) => {
                return Err(ConfigError::Other(
                    "Must configure one of topics or topics.regex".into(),
                ));
            }
            _ => {}
        }
        if let Some(dlq) = &self.dlq_topic
            && self.topics.contains(dlq)
        {
            return Err(ConfigError::Other(format!(
                "The DLQ topic '{dlq}' may not be included in the list of topics ('topics={}') consumed by the connector",
                self.topics.join(",")
            )));
        }
        Ok(())
    }
}

/// Reads `sandbox.http.allow` (comma-separated `scheme://host:port` rules),
/// `sandbox.http.timeout.ms` and `sandbox.http.response.max.bytes` within the worker's
/// `sandbox.http.*` policy. No allow-list = no network at all.
pub fn egress_policy(
    settings: &Settings,
    worker: &WorkerConfig,
) -> Result<Option<Arc<EgressPolicy>>, ConfigError> {
    let policy = &worker.http;
    let timeout = settings.parse_or(
        "sandbox.http.timeout.ms",
        millis(policy.max_timeout),
        "a positive number of milliseconds",
    )?;
    if timeout == 0 {
        return Err(ConfigError::Invalid {
            key: "sandbox.http.timeout.ms".into(),
            value: "0".into(),
            expected: "a positive number of milliseconds",
        });
    }
    if timeout > millis(policy.max_timeout) {
        return Err(ConfigError::AboveMaximum {
            key: "sandbox.http.timeout.ms",
            value: timeout.to_string(),
            maximum: millis(policy.max_timeout),
            max_key: "sandbox.max.http.timeout.ms",
        });
    }
    let max_response_bytes = settings.parse_or(
        "sandbox.http.response.max.bytes",
        policy.max_response_bytes,
        "a number of bytes",
    )?;
    if max_response_bytes > policy.max_response_bytes {
        return Err(ConfigError::AboveMaximum {
            key: "sandbox.http.response.max.bytes",
            value: max_response_bytes.to_string(),
            maximum: policy.max_response_bytes,
            max_key: "sandbox.max.http.response.bytes",
        });
    }
    let concurrent_requests = settings.parse_or(
        "sandbox.http.concurrent.requests",
        policy
            .max_concurrent_requests
            .min(DEFAULT_HTTP_CONCURRENT_REQUESTS),
        "a positive number of requests",
    )?;
    if concurrent_requests == 0 {
        return Err(ConfigError::Invalid {
            key: "sandbox.http.concurrent.requests".into(),
            value: "0".into(),
            expected: "a positive number of requests",
        });
    }
    if concurrent_requests > policy.max_concurrent_requests {
        return Err(ConfigError::AboveMaximum {
            key: "sandbox.http.concurrent.requests",
            value: concurrent_requests.to_string(),
            maximum: policy.max_concurrent_requests as u64,
            max_key: "sandbox.max.http.concurrent.requests",
        });
    }
    let rules = settings.list("sandbox.http.allow");
    if rules.is_empty() {
        return Ok(None);
    }
    if !policy.enabled {
        return Err(ConfigError::Other(
            "sandbox.http.allow is set, but this worker forbids network access for connectors \
             (sandbox.http.enabled=false)"
                .into(),
        ));
    }
    let allow = parse_allow_list(&rules).map_err(|reason| {
        ConfigError::Other(format!(
            "invalid sandbox.http.allow: {reason}; expected comma-separated \
             scheme://host:port rules (`*` for any port or host label)"
        ))
    })?;
    Ok(Some(Arc::new(EgressPolicy {
        allow,
        allow_private_networks: policy.allow_private_networks,
        timeout: Duration::from_millis(timeout),
        max_response_bytes,
        concurrent_requests,
        tls: policy.tls.clone(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(
        pairs: &[(&str, &str)],
        worker: &[(&str, &str)],
    ) -> Result<Option<Arc<EgressPolicy>>, ConfigError> {
        let to_settings = |pairs: &[(&str, &str)]| -> Settings {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let worker = WorkerConfig::from_settings(to_settings(worker)).unwrap();
        egress_policy(&to_settings(pairs), &worker)
    }

    #[test]
    fn egress_is_denied_by_default_and_bounded_by_the_worker() {
        assert!(egress(&[], &[]).unwrap().is_none());
        let policy = egress(
            &[(
                "sandbox.http.allow",
                "https://api.example.com, http://*:8080",
            )],
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(policy.allow.len(), 2);
        assert!(!policy.allow_private_networks);
        assert_eq!(policy.timeout, Duration::from_secs(30));
        let policy = egress(
            &[
                ("sandbox.http.allow", "http://127.0.0.1:*"),
                ("sandbox.http.timeout.ms", "500"),
            ],
            &[("sandbox.http.allow.private.networks", "true")],
        )
        .unwrap()
        .unwrap();
        assert!(policy.allow_private_networks);
        assert_eq!(policy.timeout, Duration::from_millis(500));

        let error = egress(
            &[("sandbox.http.allow", "https://api.example.com")],
            &[("sandbox.http.enabled", "false")],
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("sandbox.http.enabled=false"), "{error}");
        let error = egress(
            &[
                ("sandbox.http.allow", "https://api.example.com"),
                ("sandbox.http.concurrent.requests", "5"),
            ],
            &[("sandbox.max.http.concurrent.requests", "4")],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "sandbox.http.concurrent.requests=5 exceeds the worker maximum 4 \
             (sandbox.max.http.concurrent.requests)"
        );
        let policy = egress(&[("sandbox.http.allow", "https://api.example.com")], &[])
            .unwrap()
            .unwrap();
        assert_eq!(policy.concurrent_requests, 16);
        let error = egress(&[("sandbox.http.allow", "api.example.com")], &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid sandbox.http.allow"), "{error}");
        let error = egress(&[("sandbox.http.timeout.ms", "60000")], &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "sandbox.http.timeout.ms=60000 exceeds the worker maximum 30000 (sandbox.max.http.timeout.ms)"
        );
        let error = egress(
            &[("sandbox.http.response.max.bytes", "2000")],
            &[("sandbox.max.http.response.bytes", "1000")],
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("sandbox.max.http.response.bytes"), "{error}");
    }

    fn parse_plain(pairs: &[(&str, &str)]) -> Result<ConnectorConfig, ConfigError> {
        let settings: Settings = [("name", "c"), ("connector.class", "X")]
            .iter()
            .chain(pairs)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        ConnectorConfig::parse(settings, &worker)
    }

    #[test]
    fn error_handling_keys_are_read_and_checked() {
        let config = parse_plain(&[]).unwrap();
        assert_eq!(config.errors.retry_timeout, RetryTimeout::None);
        assert_eq!(config.errors.retry_delay_max, Duration::from_secs(60));
        assert!(!config.errors.log_enable);
        let config = parse_plain(&[
            ("errors.tolerance", "ALL"),
            ("errors.retry.timeout", "-1"),
            ("errors.retry.delay.max.ms", "2000"),
            ("errors.log.enable", "true"),
            ("errors.log.include.messages", "true"),
        ])
        .unwrap();
        assert_eq!(config.errors.tolerance, ErrorTolerance::All);
        assert_eq!(config.errors.retry_timeout, RetryTimeout::Infinite);
        assert_eq!(config.errors.retry_delay_max, Duration::from_secs(2));
        assert!(config.errors.log_enable && config.errors.log_include_messages);
        let config = parse_plain(&[("errors.retry.timeout", "30000")]).unwrap();
        assert_eq!(
            config.errors.retry_timeout,
            RetryTimeout::Within(Duration::from_secs(30))
        );
        let error = parse_plain(&[("errors.retry.timeout", "-5")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("errors.retry.timeout"), "{error}");
    }

    #[test]
    fn filesystem_grants_are_refused_outside_the_workers_policy() {
        let settings = |pairs: &[(&str, &str)]| -> Settings {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let dir = tempfile::tempdir().unwrap();
        let granted = dir.path().display().to_string();
        let connector = settings(&[
            ("name", "c"),
            ("connector.class", "X"),
            ("sandbox.fs.write", &granted),
        ]);
        let open = WorkerConfig::from_settings(Settings::new()).unwrap();
        assert!(ConnectorConfig::parse(connector.clone(), &open).is_ok());
        // A grant the policy refuses is refused when the connector is created, naming why.
        let worker_files = settings(&[("data.dir", &format!("{granted}/data"))]);
        let error = ConnectorConfig::parse(
            connector.clone(),
            &WorkerConfig::from_settings(worker_files).unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("contains") && error.contains("the worker's data.dir"),
            "{error}"
        );
        let closed =
            WorkerConfig::from_settings(settings(&[("sandbox.fs.enabled", "false")])).unwrap();
        let error = ConnectorConfig::parse(connector, &closed)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sandbox.fs.write") && error.contains("sandbox.fs.enabled=false"),
            "{error}"
        );
    }

    #[test]
    fn reads_both_json_shapes_and_properties() {
        let dir = tempfile::tempdir().unwrap();
        let post = dir.path().join("a.json");
        std::fs::write(
            &post,
            r#"{"name":"a","config":{"connector.class":"FileStreamSource","tasks.max":2},"initial_state":"paused"}"#,
        )
        .unwrap();
        let submission = ConnectorSubmission::read(&post).unwrap();
        assert_eq!(submission.name, "a");
        assert_eq!(submission.config.get("tasks.max").unwrap(), "2");
        assert_eq!(submission.config.get("name").unwrap(), "a");
        assert_eq!(submission.initial_state, InitialState::Paused);

        let flat = dir.path().join("b.json");
        std::fs::write(&flat, r#"{"name":"b","connector.class":"X"}"#).unwrap();
        assert_eq!(ConnectorSubmission::read(&flat).unwrap().name, "b");

        let props = dir.path().join("c.properties");
        std::fs::write(&props, "name=c\nconnector.class=X\n").unwrap();
        assert_eq!(ConnectorSubmission::read(&props).unwrap().name, "c");
    }

    #[test]
    fn mismatched_names_and_nulls_are_rejected_with_kafka_messages() {
        let json = serde_json::json!({"name": "a", "config": {"name": "b"}});
        let error = ConnectorSubmission::from_json(&json)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "Connector name configuration (b) doesn't match connector name in the URL (a)"
        );
        let json = serde_json::json!({"name": "a", "config": {"x": null}});
        let error = ConnectorSubmission::from_json(&json)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "Null value can not be supplied as the configuration value."
        );
    }

    fn parse(
        worker: &WorkerConfig,
        pairs: &[(&str, &str)],
    ) -> Result<ConnectorConfig, ConfigError> {
        let mut settings: Settings = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        settings.insert("name".into(), "c".into());
        settings.insert("connector.class".into(), "X".into());
        ConnectorConfig::parse(settings, worker)
    }

    #[test]
    fn connectors_inherit_the_worker_sandbox_limits_and_may_lower_them() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        let config = parse(&worker, &[]).unwrap();
        assert_eq!(config.sandbox, worker.sandbox);
        let config = parse(&worker, &[("sandbox.timeout.ms", "100")]).unwrap();
        assert_eq!(config.sandbox.timeout, Duration::from_millis(100));
    }

    #[test]
    fn a_connector_asking_for_more_than_a_worker_maximum_is_rejected() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        let error = |pairs: &[(&str, &str)]| parse(&worker, pairs).unwrap_err().to_string();
        assert_eq!(
            error(&[("sandbox.memory.max.bytes", "8589934592")]),
            "sandbox.memory.max.bytes=8589934592 exceeds the worker maximum 4294967296 (sandbox.max.memory.bytes)"
        );
        assert_eq!(
            error(&[("sandbox.timeout.ms", "300001")]),
            "sandbox.timeout.ms=300001 exceeds the worker maximum 300000 (sandbox.max.timeout.ms)"
        );
        assert_eq!(
            error(&[("sandbox.fuel.per.call", "100000000001")]),
            "sandbox.fuel.per.call=100000000001 exceeds the worker maximum 100000000000 (sandbox.max.fuel.per.call)"
        );
        assert_eq!(
            error(&[("sandbox.fuel.per.call", "0")]),
            "sandbox.fuel.per.call=0 (unmetered) exceeds the worker maximum 100000000000 (sandbox.max.fuel.per.call)"
        );
        // Exactly the maximum is allowed.
        parse(
            &worker,
            &[
                ("sandbox.memory.max.bytes", "4294967296"),
                ("sandbox.timeout.ms", "300000"),
                ("sandbox.fuel.per.call", "100000000000"),
            ],
        )
        .unwrap();
    }

    #[test]
    fn unmetered_fuel_is_allowed_only_without_a_fuel_maximum() {
        let worker = WorkerConfig::from_settings(
            [("sandbox.max.fuel.per.call".to_owned(), "0".to_owned())].into(),
        )
        .unwrap();
        let config = parse(&worker, &[("sandbox.fuel.per.call", "0")]).unwrap();
        assert_eq!(config.sandbox.fuel_per_call, None);
    }

    #[test]
    fn restart_policy_defaults_to_none_and_reads_its_backoff() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        assert_eq!(
            parse(&worker, &[]).unwrap().restart_policy,
            RestartPolicy::None
        );
        let config = parse(&worker, &[("restart.policy", "on-failure")]).unwrap();
        assert_eq!(
            config.restart_policy,
            RestartPolicy::OnFailure(Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(60),
            })
        );
        let config = parse(
            &worker,
            &[
                ("restart.policy", "ON-FAILURE"),
                ("restart.backoff.initial.ms", "100"),
                ("restart.backoff.max.ms", "250"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.restart_policy,
            RestartPolicy::OnFailure(Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(250),
            })
        );
    }

    #[test]
    fn invalid_restart_settings_are_rejected_at_create_time() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        let error = |pairs: &[(&str, &str)]| parse(&worker, pairs).unwrap_err().to_string();
        assert_eq!(
            error(&[("restart.policy", "always")]),
            "invalid value `always` for setting `restart.policy`: expected none or on-failure"
        );
        assert_eq!(
            error(&[("restart.backoff.initial.ms", "0")]),
            "invalid value `0` for setting `restart.backoff.initial.ms`: expected a positive number of milliseconds"
        );
        assert_eq!(
            error(&[("restart.backoff.initial.ms", "-5")]),
            "invalid value `-5` for setting `restart.backoff.initial.ms`: expected a positive number of milliseconds"
        );
        assert_eq!(
            error(&[
                ("restart.backoff.initial.ms", "2000"),
                ("restart.backoff.max.ms", "1000")
            ]),
            "invalid value `1000` for setting `restart.backoff.max.ms`: expected at least restart.backoff.initial.ms"
        );
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_its_maximum() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        let delays: Vec<u128> = (1..=6)
            .map(|attempt| backoff.delay(attempt).as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(0), Duration::from_millis(100));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn sink_topic_rules_follow_kafka_connect() {
        let worker = WorkerConfig::from_settings(Settings::new()).unwrap();
        let parse = |pairs: &[(&str, &str)]| {
            let mut settings: Settings = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            settings.insert("name".into(), "s".into());
            settings.insert("connector.class".into(), "X".into());
            ConnectorConfig::parse(settings, &worker).unwrap()
        };
        assert!(parse(&[("topics", "a")]).validate_sink().is_ok());
        let both = parse(&[("topics", "a"), ("topics.regex", "a.*")])
            .validate_sink()
            .unwrap_err();
        assert!(both.to_string().contains("mutually exclusive"));
        assert!(
            parse(&[])
                .validate_sink()
                .unwrap_err()
                .to_string()
                .contains("Must configure one of")
        );
        let dlq = parse(&[
            ("topics", "a,b"),
            ("errors.deadletterqueue.topic.name", "b"),
        ]);
        assert!(
            dlq.validate_sink()
                .unwrap_err()
                .to_string()
                .contains("DLQ topic")
        );
    }
}
