//! The herder: the worker's desired state (which connectors exist, in which target state)
//! and the actors that make it so. Creating a connector validates it, resolves its plugin and
//! starts an actor that owns the connector instance and its tasks.

mod connector;
pub mod status;

use std::{collections::BTreeMap, sync::Arc};

use tokio::sync::{Mutex, mpsc, oneshot};

use self::connector::{Actor, Command, Shared, connector_context};
pub use self::status::{ConnectorStatus, State, StateInfo, StatusStore};
use crate::{
    config::{
        ConfigError, ConnectorConfig, ConnectorSubmission, InitialState, WorkerConfig,
        worker::LogBackend,
    },
    log::{
        RecordLog,
        embedded::EmbeddedLog,
        kafka::{KafkaLog, KafkaSettings},
    },
    plugins::{PluginError, PluginRegistry, PluginSource},
    runtime::{ConfigMap, PluginKind, Runtime, RuntimeConfig},
    storage::FileOffsetStore,
    worker::{Services, TargetState, TaskMetrics},
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
}

struct ConnectorEntry {
    config: Arc<ConnectorConfig>,
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
}

impl Herder {
    /// Opens the log, the offset store and the plugin registry for a worker configuration.
    pub async fn start(worker: WorkerConfig) -> anyhow::Result<Self> {
        let log: Arc<dyn RecordLog> = match &worker.log {
            LogBackend::Embedded { dir } => Arc::new(EmbeddedLog::open(dir)?),
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
            ..RuntimeConfig::default()
        })?;
        let registry = PluginRegistry::with_builtins(runtime).await?;
        for error in registry.load_plugin_path(&worker.plugin_path).await {
            tracing::warn!(error = %crate::error_chain(&error), "A plugin on plugin.path was skipped.");
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
        Ok(Self {
            services: Arc::new(Services {
                worker,
                log,
                offsets,
                worker_id,
            }),
            registry: Arc::new(registry),
            statuses,
            connectors: Arc::new(Mutex::new(BTreeMap::new())),
        })
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
        let mut connectors = self.connectors.lock().await;
        if connectors.contains_key(&submission.name) {
            return Err(HerderError::AlreadyExists(submission.name));
        }
        let config = ConnectorConfig::parse(submission.config, &self.services.worker)?;
        let plugin = self
            .registry
            .resolve(&config.class, config.plugin_version.as_deref())?;
        if plugin.info.kind == PluginKind::Sink {
            config.validate_sink()?;
        }
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
        let errors: Vec<String> = results
            .iter()
            .flat_map(|value| {
                value
                    .errors
                    .iter()
                    .map(move |error| format!("{}: {error}", value.name))
            })
            .collect();
        if !errors.is_empty() {
            return Err(HerderError::Invalid(errors));
        }
        let builtin = self
            .registry
            .source_of(&plugin)
            .is_some_and(|source| source == PluginSource::Builtin);
        let config = Arc::new(config);
        let shared = Arc::new(Shared::default());
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let actor = Actor {
            config: config.clone(),
            plugin,
            builtin,
            services: self.services.clone(),
            statuses: self.statuses.clone(),
            shared: shared.clone(),
            target: match submission.initial_state {
                InitialState::Running => TargetState::Started,
                InitialState::Paused => TargetState::Paused,
                InitialState::Stopped => TargetState::Stopped,
            },
        };
        let join = tokio::spawn(actor.run(Some(instance), commands_rx));
        connectors.insert(
            submission.name,
            ConnectorEntry {
                config,
                commands,
                shared,
                join,
            },
        );
        Ok(())
    }

    /// Stops a connector's tasks and the connector, and forgets it.
    pub async fn delete_connector(&self, name: &str) -> Result<(), HerderError> {
        let entry = self
            .connectors
            .lock()
            .await
            .remove(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        shutdown_entry(entry).await;
        self.statuses.remove(name);
        Ok(())
    }

    /// Pauses, resumes (`Started`) or stops a connector.
    pub async fn set_target_state(
        &self,
        name: &str,
        target: TargetState,
    ) -> Result<(), HerderError> {
        let connectors = self.connectors.lock().await;
        let entry = connectors
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        let _ = entry.commands.send(Command::SetTarget(target));
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
