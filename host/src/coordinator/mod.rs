//! The herder: the worker's desired state (which connectors exist, in which target state)
//! and the actors that make it so. Creating a connector validates it, resolves its plugin and
//! starts an actor that owns the connector instance and its tasks.

mod connector;
mod offsets;
pub mod status;
pub mod store;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::{Mutex, mpsc, oneshot};

use self::connector::{Actor, Command, Shared, connector_context, validation_context};
pub use self::{
    status::{ConnectorStatus, State, StateInfo, StatusStore},
    store::{ConfigStore, Restored, StoreError, StoredConnector},
};
use crate::{
    config::{
        ConfigError, ConnectorConfig, ConnectorSubmission, InitialState, Settings, WorkerConfig,
        def::ConfigValue, worker::LogBackend,
    },
    log::{
        RecordLog,
        embedded::EmbeddedLog,
        kafka::{KafkaLog, KafkaSettings},
    },
    plugins::{PluginError, PluginRef, PluginRegistry, PluginSource},
    runtime::{ConfigMap, ConnectorInstance, Plugin, PluginKind, Runtime, RuntimeConfig},
    storage::FileOffsetStore,
    worker::{ActiveTopics, Services, TargetState, TaskMetrics},
};

#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    #[error("Connector {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Kafka Connect's aggregated validation message.
    #[error(
        "Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`",
        .0.len(),
        .0.join("\n")
    )]
    Invalid(Vec<String>),
    #[error("failed to validate connector: {0}")]
    Validation(String),
    /// Offsets may only change while the connector is stopped.
    #[error(
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{0}/stop' endpoint"
    )]
    NotStopped(String),
    /// An alter-offsets request in the wrong shape.
    #[error("{0}")]
    BadOffsets(String),
    /// The config changed between reading and writing it (a concurrent update); Kafka
    /// Connect's message for it.
    #[error(
        "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"
    )]
    Stale,
    /// Reading or writing offsets failed.
    #[error("{0}")]
    OffsetsFailed(String),
}

/// Why [`Herder::restore`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A connector given on the command line (the `index`th) could not be created.
    #[error("failed to create connector `{name}`")]
    Given {
        index: usize,
        name: String,
        #[source]
        source: HerderError,
    },
}

struct ConnectorEntry {
    config: Arc<ConnectorConfig>,
    /// The plugin it runs, kept in the config store.
    plugin: PluginRef,
    target: TargetState,
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    join: tokio::task::JoinHandle<()>,
}

/// The worker's connectors.
#[derive(Clone)]
pub struct Herder {
    services: Arc<Services>,
    registry: Arc<PluginRegistry>,
    statuses: Arc<StatusStore>,
    connectors: Arc<Mutex<BTreeMap<String, ConnectorEntry>>>,
    /// Where connector configs and target states are kept across restarts.
    store: Arc<ConfigStore>,
    /// False while the worker is still starting its connectors (`GET /health` says so).
    ready: Arc<AtomicBool>,
}

/// A validated connector config with its plugin and the instance that validated it.
struct Prepared {
    config: ConnectorConfig,
    plugin: Arc<Plugin>,
    instance: ConnectorInstance,
}

impl Herder {
    /// Opens the log, the offset store and the plugin registry for a worker configuration.
    pub async fn start(worker: WorkerConfig) -> anyhow::Result<Self> {
        let log: Arc<dyn RecordLog> = match &worker.log {
            LogBackend::Embedded { dir } => {
                Arc::new(EmbeddedLog::open_with_cache(dir, worker.log_cache_bytes)?)
            }
            LogBackend::Kafka { bootstrap_servers } => {
                let mut settings = KafkaSettings::new(BTreeMap::from([(
                    "bootstrap.servers".to_owned(),
                    bootstrap_servers.clone(),
                )]));
                settings.admin = worker.client_settings("admin.");
                settings.producer = worker.client_settings("producer.");
                settings.consumer = worker.client_settings("consumer.");
                Arc::new(KafkaLog::new(settings)?)
            }
        };
        Self::with_log(worker, log).await
    }

    /// Like [`Herder::start`] with a log of the caller's choosing.
    pub async fn with_log(worker: WorkerConfig, log: Arc<dyn RecordLog>) -> anyhow::Result<Self> {
        let offsets = Arc::new(FileOffsetStore::open(&worker.offset_file)?);
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(worker.cache_dir.clone()),
            max_component_bytes: worker.plugin_max_bytes,
            metering: worker.metering,
            throttle_after: worker.throttle_after,
            limits: worker.host_limits,
            ..RuntimeConfig::default()
        })?;
        let registry = PluginRegistry::with_builtins(runtime).await?;
        for error in registry.load_plugin_path(&worker.plugin_path).await {
            tracing::warn!(error = %crate::error_chain(&error), "A plugin on plugin.path was skipped.");
        }
        for error in registry.load_uploads(&worker.uploads_dir()).await {
            tracing::warn!(error = %crate::error_chain(&error), "An uploaded plugin was skipped.");
        }
        let worker_id = worker
            .raw
            .get("rest.advertised.host.name")
            .map(|host| {
                format!(
                    "{host}:{}",
                    worker
                        .raw
                        .get("rest.advertised.port")
                        .map_or("8083", String::as_str)
                )
            })
            .unwrap_or_else(|| crate::config::worker::DEFAULT_WORKER_ID.to_owned());
        let statuses = Arc::new(StatusStore::new(worker_id.clone()));
        let store = Arc::new(ConfigStore::new(&worker.data_dir));
        Ok(Self {
            services: Arc::new(Services {
                worker,
                log,
                offsets,
                worker_id,
                topics: ActiveTopics::default(),
            }),
            registry: Arc::new(registry),
            statuses,
            connectors: Arc::new(Mutex::new(BTreeMap::new())),
            store,
            ready: Arc::new(AtomicBool::new(true)),
        })
    }

    /// Whether the worker finished starting its connectors.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Marks the worker as starting (false) or ready (true), for `GET /health`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// The connectors kept in `<data.dir>/connectors.json`, each with its stored target state
    /// as `initial_state` and the plugin it ran.
    pub fn stored_connectors(&self) -> Result<Vec<Restored>, StoreError> {
        self.store.load()
    }

    /// Starts the connectors kept in the config store and those `given` (on the command line).
    /// A stored connector runs the very plugin it ran before (see
    /// [`PluginRegistry::resolve_pinned`]), whatever was installed meanwhile. A given
    /// connector replaces the stored config of the same name, resolving its class again, but
    /// keeps its stored target state (PAUSED or STOPPED over REST). A stored connector that
    /// fails to start is logged and skipped; a given one that fails is an error.
    pub async fn restore(&self, given: Vec<ConnectorSubmission>) -> Result<(), RestoreError> {
        let mut stored = self.stored_connectors()?;
        let mut merged = Vec::new();
        for mut submission in given {
            if let Some(index) = stored
                .iter()
                .position(|s| s.submission.name == submission.name)
            {
                submission.initial_state = stored.remove(index).submission.initial_state;
            }
            merged.push(submission);
        }
        for Restored { submission, plugin } in stored {
            let name = submission.name.clone();
            match self.create(submission, plugin.as_ref()).await {
                Ok(()) => tracing::info!(connector = %name, "Stored connector started."),
                Err(error) => tracing::error!(
                    connector = %name,
                    error = %crate::error_chain(&error),
                    "A stored connector could not be started."
                ),
            }
        }
        for (index, submission) in merged.into_iter().enumerate() {
            let name = submission.name.clone();
            self.create_connector(submission)
                .await
                .map_err(|source| RestoreError::Given {
                    index,
                    name: name.clone(),
                    source,
                })?;
            tracing::info!(connector = %name, "Connector created.");
        }
        Ok(())
    }

    /// Writes every connector's config and target state to the config store. A failed write is
    /// logged: the change already took effect in this worker.
    fn persist(&self, connectors: &BTreeMap<String, ConnectorEntry>) {
        let stored: BTreeMap<String, StoredConnector> = connectors
            .iter()
            .map(|(name, entry)| {
                (
                    name.clone(),
                    StoredConnector {
                        config: entry.config.settings.clone(),
                        target: entry.target,
                        plugin: Some(entry.plugin.clone()),
                    },
                )
            })
            .collect();
        if let Err(error) = self.store.save(&stored) {
            tracing::error!(error = %crate::error_chain(&error), "Failed to store the connector configs.");
        }
    }

    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Validates and creates a connector, then starts it in its initial state.
    pub async fn create_connector(
        &self,
        submission: ConnectorSubmission,
    ) -> Result<(), HerderError> {
        self.create(submission, None).await
    }

    /// [`Self::create_connector`], running exactly the `pinned` plugin if given.
    async fn create(
        &self,
        submission: ConnectorSubmission,
        pinned: Option<&PluginRef>,
    ) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        if connectors.contains_key(&submission.name) {
            return Err(HerderError::AlreadyExists(submission.name));
        }
        let prepared = self.prepare(submission.config, pinned).await?;
        let target = match submission.initial_state {
            InitialState::Running => TargetState::Started,
            InitialState::Paused => TargetState::Paused,
            InitialState::Stopped => TargetState::Stopped,
        };
        let (entry, started) = self.spawn(prepared, target);
        connectors.insert(submission.name, entry);
        self.persist(&connectors);
        drop(connectors);
        // Answer once the connector generated its tasks, as Kafka Connect's standalone herder.
        let _ = started.await;
        Ok(())
    }

    /// Creates a connector (true) or replaces its config (false), as `PUT
    /// /connectors/{name}/config`. A replaced connector keeps its target state; its connector
    /// instance and tasks are stopped and started again with the new config.
    pub async fn put_connector_config(
        &self,
        name: &str,
        settings: Settings,
    ) -> Result<bool, HerderError> {
        let connectors = self.connectors.lock().await;
        self.replace_config(connectors, name, settings).await
    }

    /// Replaces the config of an existing connector, as `PATCH /connectors/{name}/config`,
    /// provided it is still `expected` (the config the patch was merged into): `NotFound` if
    /// the connector was deleted meanwhile (a patch never creates one), `Stale` if its config
    /// changed.
    pub async fn patch_connector_config(
        &self,
        name: &str,
        expected: &Arc<ConnectorConfig>,
        settings: Settings,
    ) -> Result<(), HerderError> {
        let connectors = self.connectors.lock().await;
        match connectors.get(name) {
            None => return Err(HerderError::NotFound(name.to_owned())),
            Some(entry) if !Arc::ptr_eq(&entry.config, expected) => {
                return Err(HerderError::Stale);
            }
            Some(_) => {}
        }
        self.replace_config(connectors, name, settings)
            .await
            .map(|_| ())
    }

    /// Creates or replaces a connector's config while holding the connectors' lock.
    async fn replace_config(
        &self,
        mut connectors: tokio::sync::MutexGuard<'_, BTreeMap<String, ConnectorEntry>>,
        name: &str,
        settings: Settings,
    ) -> Result<bool, HerderError> {
        let prepared = self.prepare(settings, None).await?;
        let (created, target) = match connectors.remove(name) {
            Some(old) => {
                let target = old.target;
                shutdown_entry(old).await;
                self.statuses.retain_tasks(name, 0);
                (false, target)
            }
            None => (true, TargetState::Started),
        };
        let (entry, started) = self.spawn(prepared, target);
        connectors.insert(name.to_owned(), entry);
        self.persist(&connectors);
        drop(connectors);
        let _ = started.await;
        Ok(created)
    }

    /// Parses and validates a connector config, resolves its plugin (exactly `pinned`, if
    /// given) and validates the config with the connector itself.
    async fn prepare(
        &self,
        settings: Settings,
        pinned: Option<&PluginRef>,
    ) -> Result<Prepared, HerderError> {
        let mut config =
            ConnectorConfig::parse_with(settings, &self.services.worker, self.registry.as_ref())?;
        let plugin = match pinned {
            Some(pin) => self.registry.resolve_pinned(pin)?,
            None => self
                .registry
                .resolve(&config.class, config.plugin_version.as_deref())?,
        };
        if !plugin.info.kind.is_connector() {
            return Err(HerderError::Validation(format!(
                "connector.class {} names a transformation, not a connector; use it in \
                 `transforms.<alias>.type` of a connector instead",
                config.class
            )));
        }
        if plugin.info.kind == PluginKind::Sink {
            config.validate_sink()?;
        }
        // The built-in file connectors are granted their `file`'s directory: within the
        // worker's filesystem policy, checked now and again when each task starts.
        if self.registry.source_of(&plugin) == Some(PluginSource::Builtin)
            && let Some(file) = config.settings.get("file")
            && let Some(dir) = std::path::absolute(file)
                .ok()
                .and_then(|file| file.parent().map(std::path::Path::to_path_buf))
        {
            self.services
                .worker
                .fs
                .check("file", &dir)
                .map_err(HerderError::Validation)?;
        }
        config.sandbox.memory_max_bytes = memory_cap_for(
            &plugin.info,
            config.sandbox.memory_max_bytes,
            config.settings.contains_key("sandbox.memory.max.bytes"),
            self.services.worker.sandbox_max.memory_max_bytes,
        )
        .map_err(HerderError::Validation)?;
        // Validate with the connector itself, on the instance that will then be started.
        let (events_tx, _events_rx) = mpsc::unbounded_channel();
        let mut instance = plugin
            .connector(connector_context(&config, &self.services, events_tx))
            .await
            .map_err(|error| HerderError::Validation(crate::error_chain(&error)))?;
        let results = instance
            .validate(&config.settings)
            .await
            .map_err(|error| HerderError::Validation(error.to_string()))?;
        let mut errors: Vec<String> = results
            .iter()
            .flat_map(|value| {
                value
                    .errors
                    .iter()
                    .map(move |error| format!("{}: {error}", value.name))
            })
            .collect();
        // Transform components check their own `transforms.<alias>.*` settings.
        if config.transforms.has_plugins() {
            errors.extend(
                config
                    .transforms
                    .validate_plugins(validation_context(&config.name, &self.services))
                    .await,
            );
        }
        if !errors.is_empty() {
            return Err(HerderError::Invalid(errors));
        }
        Ok(Prepared {
            config,
            plugin,
            instance,
        })
    }

    /// Starts the actor of a prepared connector.
    /// The receiver completes once the connector started and generated its first tasks.
    fn spawn(
        &self,
        prepared: Prepared,
        target: TargetState,
    ) -> (ConnectorEntry, oneshot::Receiver<()>) {
        let Prepared {
            config,
            plugin,
            instance,
        } = prepared;
        let builtin = self
            .registry
            .source_of(&plugin)
            .is_some_and(|source| source == PluginSource::Builtin);
        let config = Arc::new(config);
        let shared = Arc::new(Shared::default());
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (started, started_rx) = oneshot::channel();
        let actor = Actor {
            config: config.clone(),
            plugin,
            builtin,
            services: self.services.clone(),
            statuses: self.statuses.clone(),
            shared: shared.clone(),
            target,
            started: Some(started),
        };
        let pin = self.registry.pin(&actor.plugin);
        let join = tokio::spawn(actor.run(Some(instance), commands_rx));
        let entry = ConnectorEntry {
            config,
            plugin: pin,
            target,
            commands,
            shared,
            join,
        };
        (entry, started_rx)
    }

    /// Runs a plugin's own `validate` on a config that need not be complete, in a fresh
    /// connector instance (for `PUT /connector-plugins/{plugin}/config/validate`).
    pub async fn validate_with_connector(
        &self,
        plugin: &Arc<Plugin>,
        settings: &Settings,
    ) -> Result<Vec<ConfigValue>, HerderError> {
        let name = settings.get("name").map_or("validate", String::as_str);
        let mut instance = plugin
            .connector(validation_context(name, &self.services))
            .await
            .map_err(|error| HerderError::Validation(crate::error_chain(&error)))?;
        instance
            .validate(settings)
            .await
            .map_err(|error| HerderError::Validation(error.to_string()))
    }

    /// Restarts a connector instance (`connector`) and/or some of its tasks (by id). The
    /// receiver completes when the restart was carried out.
    pub async fn restart(
        &self,
        name: &str,
        connector: bool,
        tasks: Vec<u32>,
    ) -> Result<oneshot::Receiver<()>, HerderError> {
        let connectors = self.connectors.lock().await;
        let entry = connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        // RESTARTING from now on, so no reader sees the old state after the request returned.
        if let Some(status) = self.statuses.get(name) {
            if connector {
                self.statuses
                    .set_connector(name, status.kind, State::Restarting, None);
            }
            for task in tasks.iter().filter(|task| status.tasks.contains_key(task)) {
                self.statuses.set_task(name, *task, State::Restarting, None);
            }
        }
        let (done, wait) = oneshot::channel();
        let _ = entry.commands.send(Command::Restart {
            connector,
            tasks,
            done,
        });
        Ok(wait)
    }

    /// The target state of a connector.
    pub async fn target_state(&self, name: &str) -> Option<TargetState> {
        self.connectors
            .lock()
            .await
            .get(name)
            .map(|entry| entry.target)
    }

    /// The topics a connector used since it was created or its topics were reset.
    pub fn active_topics(&self, name: &str) -> Vec<String> {
        self.services.topics.get(name)
    }

    /// Forgets a connector's active topics.
    pub fn reset_active_topics(&self, name: &str) {
        self.services.topics.reset(name);
    }

    /// Stops a connector's tasks and the connector, and forgets it.
    pub async fn delete_connector(&self, name: &str) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors
            .remove(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        self.persist(&connectors);
        drop(connectors);
        shutdown_entry(entry).await;
        self.statuses.remove(name);
        self.services.topics.reset(name);
        Ok(())
    }

    /// Pauses, resumes (`Started`) or stops a connector.
    pub async fn set_target_state(
        &self,
        name: &str,
        target: TargetState,
    ) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors
            .get_mut(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let _ = entry.commands.send(Command::SetTarget(target));
        if entry.target != target {
            entry.target = target;
            self.persist(&connectors);
        }
        Ok(())
    }

    pub async fn connector_names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    pub async fn connector_config(&self, name: &str) -> Option<Arc<ConnectorConfig>> {
        self.connectors
            .lock()
            .await
            .get(name)
            .map(|entry| entry.config.clone())
    }

    pub fn status(&self, name: &str) -> Option<ConnectorStatus> {
        self.statuses.get(name)
    }

    /// The current task configs of a connector.
    pub async fn task_configs(&self, name: &str) -> Option<Vec<ConfigMap>> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name)?;
        Some(entry.shared.task_configs.lock().expect("lock").clone())
    }

    /// The counters of a connector's current tasks, by task id.
    pub async fn task_metrics(&self, name: &str) -> Vec<Arc<TaskMetrics>> {
        let connectors = self.connectors.lock().await;
        connectors
            .get(name)
            .map(|entry| entry.shared.metrics.lock().expect("lock").clone())
            .unwrap_or_default()
    }

    /// Stops every connector gracefully: tasks finish their current call, flush offsets and
    /// stop.
    pub async fn shutdown(&self) {
        let entries: Vec<_> = std::mem::take(&mut *self.connectors.lock().await)
            .into_values()
            .collect();
        futures::future::join_all(entries.into_iter().map(shutdown_entry)).await;
    }
}

async fn shutdown_entry(entry: ConnectorEntry) {
    let (done, wait) = oneshot::channel();
    if entry.commands.send(Command::Shutdown(done)).is_ok() {
        let _ = wait.await;
    }
    let _ = entry.join.await;
}

/// The memory cap of a connector of `plugin`: what it asked for (`explicit`), or else the
/// worker default raised to twice what the component needs to start (so a Python connector
/// runs under a worker default sized for Rust ones), within the worker maximum. An explicit
/// cap below the start size is refused, naming the size to ask for.
fn memory_cap_for(
    plugin: &crate::runtime::PluginInfo,
    cap: usize,
    explicit: bool,
    worker_max: usize,
) -> Result<usize, String> {
    let needed = plugin.start_memory_bytes;
    if needed <= cap {
        return Ok(cap);
    }
    if explicit {
        return Err(format!(
            "sandbox.memory.max.bytes={cap} is below the {needed} bytes {} {} needs just to \
             start (measured when it was loaded); raise it to at least {needed}",
            plugin.class_name, plugin.version
        ));
    }
    let sized = needed.saturating_mul(2).min(worker_max);
    if sized < needed {
        return Err(format!(
            "{} {} needs {needed} bytes of memory to start, more than this worker allows \
             (sandbox.max.memory.bytes={worker_max})",
            plugin.class_name, plugin.version
        ));
    }
    Ok(sized)
}

#[cfg(test)]
mod memory_cap_tests {
    use super::memory_cap_for;
    use crate::runtime::{PluginInfo, PluginKind};

    fn plugin(start_memory_bytes: usize) -> PluginInfo {
        PluginInfo {
            class_name: "JsonlSink".into(),
            aliases: Vec::new(),
            description: String::new(),
            version: "1.0.0".into(),
            kind: PluginKind::Sink,
            config_def: Vec::new(),
            digest: String::new(),
            start_memory_bytes,
        }
    }

    #[test]
    fn the_default_cap_grows_to_what_the_component_needs() {
        const MIB: usize = 1 << 20;
        // Enough already: unchanged, asked for or not.
        assert_eq!(
            memory_cap_for(&plugin(MIB), 16 * MIB, false, 64 * MIB),
            Ok(16 * MIB)
        );
        assert_eq!(
            memory_cap_for(&plugin(MIB), 16 * MIB, true, 64 * MIB),
            Ok(16 * MIB)
        );
        // A 13 MiB (Python) component under a 16 MiB default: twice its start size.
        assert_eq!(
            memory_cap_for(&plugin(13 * MIB), 8 * MIB, false, 64 * MIB),
            Ok(26 * MIB)
        );
        // ... within the worker maximum.
        assert_eq!(
            memory_cap_for(&plugin(13 * MIB), 8 * MIB, false, 20 * MIB),
            Ok(20 * MIB)
        );
        let error = memory_cap_for(&plugin(13 * MIB), 8 * MIB, false, 10 * MIB).unwrap_err();
        assert!(
            error.contains("sandbox.max.memory.bytes=10485760"),
            "{error}"
        );
        // An explicit cap below the start size is refused with the size to ask for.
        let error = memory_cap_for(&plugin(13 * MIB), 8 * MIB, true, 64 * MIB).unwrap_err();
        assert_eq!(
            error,
            "sandbox.memory.max.bytes=8388608 is below the 13631488 bytes JsonlSink 1.0.0 needs \
             just to start (measured when it was loaded); raise it to at least 13631488"
        );
    }
}
