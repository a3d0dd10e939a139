//! The herder: it turns the cluster's desired state (which connectors exist, with which
//! config, target state and plugin: [`desired`], backed by the config store) into this
//! worker's assignment (the connectors it runs, one actor each, which owns the connector
//! instance and its tasks). Creating a connector validates it with the connector itself,
//! resolves its plugin, writes it to the config store and starts its actor.
//!
//! Locking: changes to one connector are serialized by that connector's own lock; nothing the
//! REST API reads (names, configs, statuses, task configs) is ever locked across a guest call,
//! a disk write or a network call, so a connector whose `validate` or `start` spins holds up
//! only further changes to itself.

mod assigned;
mod connector;
pub mod desired;
mod offsets;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::{mpsc, oneshot, watch};

pub use self::connector::Units;
pub use self::offsets::{ConnectorOffsets, OffsetChange, sink_group};
use self::{
    connector::{Actor, Command, Shared, connector_context, validation_context},
    desired::DesiredState,
};
pub use crate::storage::{
    ConnectorStatus, Restored, State, StateInfo, StatusBackingStore, StoreError, StoredConnector,
};
use crate::{
    config::{
        ConfigError, ConnectorConfig, ConnectorSubmission, Settings, SettingsExt as _,
        WorkerConfig, def::ConfigValue, providers::Secrets,
    },
    log::RecordLog,
    plugins::{PluginError, PluginRef, PluginRegistry, PluginSource, TenantView, Uploaded},
    runtime::{ConfigMap, ConnectorInstance, Plugin, PluginInfo, PluginKind},
    storage::{ConfigBackingStore, OffsetBackingStore, kafka_config::KafkaConfigStore},
    tenancy::{self, Tenants},
    transforms::TransformChain,
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
    #[error("connector {0} is not stopped")]
    NotStopped(String),
    /// An alter-offsets request that does not fit the connector.
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
    /// The config store could not be written; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The worker runs as many wasm instances as it may; nothing changed.
    #[error("{0}")]
    AtCapacity(String),
    /// The connector's tenant would exceed one of its quotas; nothing changed.
    #[error("{0}")]
    Quota(String),
}

/// Why a connector instance for validation could not be made: the worker being full is not
/// the config's fault.
fn instance_error(error: crate::runtime::RuntimeError) -> HerderError {
    match error {
        crate::runtime::RuntimeError::AtCapacity { .. } => {
            HerderError::AtCapacity(crate::error_chain(&error))
        }
        error => HerderError::Validation(crate::error_chain(&error)),
    }
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

/// A connector this worker runs.
struct Running {
    /// Distributed mode: what of the connector runs here.
    units: Option<Units>,
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    join: tokio::task::JoinHandle<()>,
}

/// What a worker's herder is built from (by its composition root, e.g.
/// [`crate::standalone`]).
pub struct HerderParts {
    pub worker: WorkerConfig,
    pub log: Arc<dyn RecordLog>,
    pub offsets: Arc<dyn OffsetBackingStore>,
    pub configs: Arc<dyn ConfigBackingStore>,
    pub statuses: Arc<dyn StatusBackingStore>,
    pub registry: PluginRegistry,
    pub tenants: Arc<Tenants>,
    /// Distributed mode: the config topic, which every change goes through; the worker runs
    /// what the cluster's leader assigns it ([`Herder::apply_assignment`]). None: standalone,
    /// the worker runs every connector.
    pub distributed: Option<Arc<KafkaConfigStore>>,
}

/// The worker's connectors.
#[derive(Clone)]
pub struct Herder {
    services: Arc<Services>,
    registry: Arc<PluginRegistry>,
    statuses: Arc<dyn StatusBackingStore>,
    /// What the cluster wants.
    desired: Arc<DesiredState>,
    /// What this worker runs.
    running: Arc<std::sync::Mutex<BTreeMap<String, Running>>>,
    tenants: Arc<Tenants>,
    /// Held from a tenant's quota check until the connector is stored, so two creations
    /// cannot both take the last slot.
    admission: Arc<tokio::sync::Mutex<()>>,
    /// One lock per connector, serializing changes to it.
    locks: Arc<ConnectorLocks>,
    /// False while the worker is still starting its connectors (`GET /health` says so).
    ready: Arc<AtomicBool>,
    /// True once [`Self::load_plugins`] has loaded every plugin; requests that name a plugin
    /// wait for it, so a plugin on `plugin.path` is never reported unknown while it compiles
    /// and an upload never takes a name a `plugin.path` plugin would own.
    plugins_loaded: Arc<watch::Sender<bool>>,
    distributed: Option<Arc<KafkaConfigStore>>,
    /// Distributed mode: who leads the cluster, as this worker last saw it.
    cluster: Arc<std::sync::RwLock<ClusterInfo>>,
    /// Distributed mode: serializes following the config topic and applying assignments, so
    /// a connector's actor is replaced by one of them at a time.
    following: Arc<tokio::sync::Mutex<()>>,
    /// Distributed mode: where uploads are shared (set once the cluster driver exists).
    plugin_share: Arc<std::sync::OnceLock<Arc<dyn PluginShare>>>,
}

/// Distributed mode: how uploaded components reach every worker.
#[async_trait::async_trait]
pub trait PluginShare: Send + Sync {
    /// Makes an admitted upload (`digest` = `sha256:<hex>`) available to every worker.
    async fn publish(&self, digest: &str, bytes: &[u8], owner: Option<&str>) -> Result<(), String>;

    /// Removes a deleted upload from every worker.
    async fn retract(&self, digest: &str) -> Result<(), String>;
}

/// A distributed worker's view of its cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The leader's worker id and REST URL, from its latest assignment.
    pub leader_id: Option<String>,
    pub leader_url: Option<String>,
    /// Whether this worker leads.
    pub is_leader: bool,
    /// The assignment epoch this worker acts on.
    pub epoch: i64,
    /// The workers of the latest assignment: each one's REST URL and what it runs, by
    /// connector (task ids, -1 for the connector instance).
    pub workers: Vec<ClusterMember>,
}

/// One worker of a distributed cluster, as the latest assignment has it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClusterMember {
    pub id: String,
    pub url: String,
    pub assignment: BTreeMap<String, Vec<i64>>,
}

/// What checks a connector config before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validation {
    /// The framework's checks and the connector's own `validate` (which may reach the
    /// external system): for new and changed configs.
    Full,
    /// The framework's checks only: for stored configs a restarted worker brings back.
    Framework,
}

/// A validated connector config with its plugin, its transform chain and the instance that
/// validated it.
struct Prepared {
    config: Arc<ConnectorConfig>,
    plugin: Arc<Plugin>,
    transforms: Arc<TransformChain>,
    /// The instance that validated the config (none for a connector assigned to this worker
    /// in distributed mode: the worker that took the change validated it).
    instance: Option<ConnectorInstance>,
}

/// Per-connector locks: changes to one connector wait for each other, not for other
/// connectors' (whose guests may be slow).
#[derive(Default)]
struct ConnectorLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl ConnectorLocks {
    async fn lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Locks nobody holds or waits for go, so the map stays as small as the changes
            // in progress.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(name.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

impl Herder {
    /// A herder over the parts a composition root built.
    pub fn new(parts: HerderParts) -> Self {
        let HerderParts {
            worker,
            log,
            offsets,
            configs,
            statuses,
            registry,
            tenants,
            distributed,
        } = parts;
        Self {
            services: Arc::new(Services {
                worker_id: worker.worker_id.clone(),
                worker,
                log,
                offsets,
                topics: ActiveTopics::default(),
                startups: crate::metrics::Startups::default(),
                lease: Arc::new(if distributed.is_some() {
                    let lease = crate::worker::Lease::unbounded();
                    lease.expire();
                    lease
                } else {
                    crate::worker::Lease::unbounded()
                }),
            }),
            registry: Arc::new(registry),
            statuses,
            desired: Arc::new(DesiredState::new(configs, distributed.is_some())),
            running: Arc::new(std::sync::Mutex::new(BTreeMap::new())),
            locks: Arc::new(ConnectorLocks::default()),
            ready: Arc::new(AtomicBool::new(true)),
            plugins_loaded: Arc::new(watch::channel(false).0),
            tenants,
            admission: Arc::new(tokio::sync::Mutex::new(())),
            distributed,
            cluster: Arc::default(),
            following: Arc::default(),
            plugin_share: Arc::default(),
        }
    }

    /// `PUT /admin/loggers/{name}?scope=cluster`: in distributed mode, written to the config
    /// topic so every worker applies it; a standalone worker is its own cluster.
    pub async fn put_cluster_log_level(
        &self,
        namespace: &str,
        level: &str,
    ) -> Result<(), StoreError> {
        match &self.distributed {
            Some(store) => store.put_log_level(namespace, level).await,
            None => Ok(()),
        }
    }

    /// The digests of every plugin this worker can run (distributed mode: in its
    /// heartbeats, so the leader places a connector only where its plugin is).
    pub fn plugin_digests(&self) -> std::collections::BTreeSet<String> {
        self.registry.digests()
    }

    /// Distributed mode: shares uploads through `share` from now on.
    pub fn set_plugin_share(&self, share: Arc<dyn PluginShare>) {
        let _ = self.plugin_share.set(share);
    }

    /// Distributed mode: the cluster as this worker last saw it.
    pub fn cluster_info(&self) -> ClusterInfo {
        self.cluster
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records what the cluster driver learned.
    pub fn set_cluster_info(&self, info: ClusterInfo) {
        *self
            .cluster
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = info;
    }

    /// Whether this worker is part of a distributed cluster.
    pub fn is_distributed(&self) -> bool {
        self.distributed.is_some()
    }

    /// The worker's tenants (and whether tenancy is on).
    pub fn tenants(&self) -> &Arc<Tenants> {
        &self.tenants
    }

    /// Loads every plugin this worker can run, in the order that decides who owns a name:
    /// the built-ins, then `plugin.path`, then earlier uploads. A plugin on `plugin.path` or
    /// an upload that fails to load is logged and skipped; built-ins that fail are an error.
    /// The REST API answers meanwhile, listing the plugins loaded so far.
    pub async fn load_plugins(&self) -> Result<(), PluginError> {
        self.registry.load_builtins().await?;
        let worker = &self.services.worker;
        for error in self.registry.load_plugin_path(&worker.plugin_path).await {
            tracing::warn!(error = %crate::error_chain(&error), "A plugin on plugin.path was skipped.");
        }
        for error in self.registry.load_uploads(&worker.uploads_dir()).await {
            tracing::warn!(error = %crate::error_chain(&error), "An uploaded plugin was skipped.");
        }
        self.plugins_loaded.send_replace(true);
        Ok(())
    }

    /// Whether [`Self::load_plugins`] has finished.
    pub fn plugins_loading(&self) -> bool {
        !*self.plugins_loaded.borrow()
    }

    /// Waits until every plugin is loaded.
    async fn plugins_loaded(&self) {
        let mut loaded = self.plugins_loaded.subscribe();
        // The sender lives as long as the herder, so this ends only when loading does.
        let _ = loaded.wait_for(|loaded| *loaded).await;
    }

    /// Whether the worker finished starting its connectors.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Marks the worker as starting (false) or ready (true), for `GET /health`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// The connectors the config store holds, each with its stored target state as
    /// `initial_state`, the plugin it ran and its last task configs.
    pub async fn stored_connectors(&self) -> Result<Vec<Restored>, StoreError> {
        self.desired.stored().await
    }

    /// Starts the connectors kept in the config store and those `given` (on the command line).
    /// A stored connector runs the very plugin it ran before (see
    /// [`PluginRegistry::resolve_pinned`]), whatever was installed meanwhile. A given
    /// connector replaces the stored config of the same name, resolving its class again, but
    /// keeps its stored target state (PAUSED or STOPPED over REST). A stored connector that
    /// fails to start is logged and skipped; a given one that fails is an error.
    pub async fn restore(&self, given: Vec<ConnectorSubmission>) -> Result<(), RestoreError> {
        let mut stored = self.stored_connectors().await?;
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
        for Restored {
            submission, plugin, ..
        } in stored
        {
            let name = submission.name.clone();
            // Already validated when it was created: a connector whose `validate` reaches an
            // external system that is down right now must still come back (and fail, or
            // retry, as a running connector), not vanish.
            match self
                .create(submission, plugin.as_ref(), Validation::Framework)
                .await
            {
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
            self.create(submission, None, Validation::Full)
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

    /// The worker's settings.
    pub fn worker_config(&self) -> &WorkerConfig {
        &self.services.worker
    }

    /// What every task of this worker shares (its log, its offsets), for tests and tools.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// What `/metrics` shows now: every connector with its plugin, state and tasks (with
    /// their metrics while running), the starts counted so far and the instance capacity.
    pub async fn metrics_snapshot(&self) -> crate::metrics::WorkerSnapshot {
        let mut connectors = Vec::new();
        for name in self.connector_names().await {
            let Some(status) = self.status(&name) else {
                continue;
            };
            let class = self
                .connector_config(&name)
                .await
                .map(|config| config.class.clone())
                .unwrap_or_default();
            let metrics = self.task_metrics(&name).await;
            let state = |state: State| state.name().to_ascii_lowercase();
            connectors.push(crate::metrics::ConnectorSnapshot {
                tenant: self.tenant_of(&name).map(str::to_owned),
                kind: status.kind.name(),
                class,
                version: status.version.clone().unwrap_or_default(),
                state: state(status.connector.state),
                tasks: status
                    .tasks
                    .iter()
                    .map(|(&id, info)| crate::metrics::TaskSnapshot {
                        id,
                        state: state(info.state),
                        metrics: metrics.get(id as usize).cloned(),
                    })
                    .collect(),
                name,
            });
        }
        let capacity = self.instance_capacity();
        crate::metrics::WorkerSnapshot {
            connectors,
            startups: self.services.startups.counts(),
            instances: capacity.instances as u64,
            instances_max: capacity.instances_max as u64,
            compiles: self.registry.runtime().compile_counts(),
            plugins: self.registry.counts_by_source(),
            log: self.services.log.stats(),
            clients: self.services.log.clients(),
        }
    }

    /// How many wasm instances the worker may run at once, and how many it runs.
    pub fn instance_capacity(&self) -> crate::runtime::capacity::CapacityReport {
        self.registry.runtime().capacity().report()
    }

    /// Every plugin this worker can run: those loaded so far while [`Self::load_plugins`]
    /// runs.
    /// `tenant` sees the shared plugins and its own uploads (None: the shared ones).
    pub fn plugins(&self, tenant: Option<&str>) -> Vec<PluginInfo> {
        self.registry.list_for(tenant)
    }

    /// The plugin a class name or alias (and optionally a version or range) names, among
    /// those `tenant` sees.
    pub async fn plugin(
        &self,
        tenant: Option<&str>,
        class: &str,
        version: Option<&str>,
    ) -> Result<Arc<Plugin>, PluginError> {
        self.plugins_loaded().await;
        self.registry.resolve_in(tenant, class, version)
    }

    /// The transform components a chain of `tenant`'s may name.
    pub fn transform_plugins<'a>(&'a self, tenant: Option<&'a str>) -> TenantView<'a> {
        TenantView {
            registry: &self.registry,
            tenant,
        }
    }

    /// Admits and stores a component uploaded by `tenant` (None: shared; see
    /// [`PluginRegistry::upload_for`]).
    pub async fn upload_plugin(
        &self,
        tenant: Option<&str>,
        bytes: &[u8],
    ) -> Result<(Arc<Plugin>, Uploaded), PluginError> {
        self.plugins_loaded().await;
        let (plugin, uploaded) = self
            .registry
            .upload_for(tenant, bytes, &self.services.worker.uploads_dir())
            .await?;
        if let Some(share) = self.plugin_share.get() {
            share
                .publish(&plugin.info.digest, bytes, tenant)
                .await
                .map_err(PluginError::Share)?;
        }
        Ok((plugin, uploaded))
    }

    /// Distributed mode: registers a component another worker admitted and shared.
    pub async fn install_shared_plugin(&self, owner: Option<&str>, digest: &str, bytes: &[u8]) {
        self.plugins_loaded().await;
        if self.registry.has_upload(digest) {
            return;
        }
        match self
            .registry
            .upload_for(owner, bytes, &self.services.worker.uploads_dir())
            .await
        {
            Ok((plugin, _)) => tracing::info!(
                class = %plugin.info.class_name,
                version = %plugin.info.version,
                digest,
                "Installed a plugin uploaded to another worker."
            ),
            Err(error) => {
                tracing::warn!(digest, error = %crate::error_chain(&error), "A plugin uploaded to another worker cannot be used here.")
            }
        }
    }

    /// Distributed mode: forgets a component another worker deleted.
    pub fn remove_shared_plugin(&self, digest: &str) {
        if self.registry.remove_upload(digest) > 0 {
            tracing::info!(digest, "Removed a plugin deleted on another worker.");
        }
    }

    /// Deletes tenant `tenant` if it owns no connectors, with its secrets and its uploads.
    pub async fn delete_tenant(&self, tenant: &str) -> Result<(), crate::tenancy::TenantError> {
        let connectors = self.connector_names().await;
        self.tenants.remove(tenant, &connectors).await?;
        let removed = self.registry.remove_owner(tenant);
        tracing::info!(
            tenant,
            plugins = removed,
            "Tenant deleted, with its uploaded plugins."
        );
        Ok(())
    }

    /// Bytes of `tenant`'s uploaded components.
    pub fn uploaded_bytes(&self, tenant: &str) -> u64 {
        self.registry.uploaded_bytes(tenant)
    }

    /// Deletes a plugin version `tenant` uploaded (None: a shared upload) no connector holds.
    pub async fn delete_plugin(
        &self,
        tenant: Option<&str>,
        class: &str,
        version: Option<&str>,
    ) -> Result<Arc<Plugin>, PluginError> {
        self.plugins_loaded().await;
        if let Some(share) = self.plugin_share.get() {
            // Any connector of the cluster may run it, on whichever worker.
            let plugin = self.registry.resolve_in(tenant, class, version)?;
            let in_use = self.desired.names().iter().any(|name| {
                self.desired
                    .get(name)
                    .is_some_and(|desired| desired.plugin.digest == plugin.info.digest)
            });
            if in_use {
                return Err(PluginError::InUse {
                    class: plugin.info.class_name.clone(),
                    version: plugin.info.version.clone(),
                });
            }
            drop(plugin);
            let deleted = self.registry.delete_for(tenant, class, version)?;
            share
                .retract(&deleted.info.digest)
                .await
                .map_err(PluginError::Share)?;
            return Ok(deleted);
        }
        self.registry.delete_for(tenant, class, version)
    }

    /// Validates and creates a connector, then starts it in its initial state.
    pub async fn create_connector(
        &self,
        submission: ConnectorSubmission,
    ) -> Result<(), HerderError> {
        self.create(submission, None, Validation::Full).await
    }

    /// [`Self::create_connector`], running exactly the `pinned` plugin if given.
    async fn create(
        &self,
        submission: ConnectorSubmission,
        pinned: Option<&PluginRef>,
        validation: Validation,
    ) -> Result<(), HerderError> {
        let name = submission.name.clone();
        let guard = self.locks.lock(&name).await;
        if self.desired.contains(&name) {
            return Err(HerderError::AlreadyExists(name));
        }
        let prepared = self.prepare(submission.config, pinned, validation).await?;
        let target = TargetState::from(submission.initial_state);
        let pin = self.registry.pin(&prepared.plugin);
        let admitted = self.admission.lock().await;
        self.admit(&name, &prepared.config)?;
        self.desired
            .put_connector(&name, prepared.config.clone(), target, pin)
            .await?;
        drop(admitted);
        if self.is_distributed() {
            // The leader assigns it to a worker, which starts it.
            self.sync_desired().await;
            return Ok(());
        }
        let started = self.start(&name, prepared, target, None);
        drop(guard);
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
        let guard = self.locks.lock(name).await;
        self.replace_config(guard, name, settings).await
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
        let guard = self.locks.lock(name).await;
        match self.desired.get(name) {
            None => return Err(HerderError::NotFound(name.to_owned())),
            Some(desired) if !Arc::ptr_eq(&desired.config, expected) => {
                return Err(HerderError::Stale);
            }
            Some(_) => {}
        }
        self.replace_config(guard, name, settings).await.map(|_| ())
    }

    /// Creates or replaces a connector's config, holding its lock until the new actor runs.
    async fn replace_config(
        &self,
        guard: tokio::sync::OwnedMutexGuard<()>,
        name: &str,
        settings: Settings,
    ) -> Result<bool, HerderError> {
        let prepared = self.prepare(settings, None, Validation::Full).await?;
        let (created, target) = match self.desired.get(name) {
            Some(desired) => (false, desired.target),
            None => (true, TargetState::Started),
        };
        let pin = self.registry.pin(&prepared.plugin);
        let admitted = self.admission.lock().await;
        self.admit(name, &prepared.config)?;
        self.desired
            .put_connector(name, prepared.config.clone(), target, pin)
            .await?;
        drop(admitted);
        if self.is_distributed() {
            // Every worker running some of it restarts that with the new config.
            self.sync_desired().await;
            return Ok(created);
        }
        if !created {
            self.stop(name).await;
            self.statuses.retain_tasks(name, 0);
        }
        let started = self.start(name, prepared, target, None);
        drop(guard);
        let _ = started.await;
        Ok(created)
    }

    /// Parses and validates a connector config, resolves its plugin (exactly `pinned`, if
    /// given) and its transform chain, and validates the config with the connector itself.
    async fn prepare(
        &self,
        settings: Settings,
        pinned: Option<&PluginRef>,
        validation: Validation,
    ) -> Result<Prepared, HerderError> {
        self.plugins_loaded().await;
        let mut config = self.parse_config(settings)?;
        // Fail fast, before the guest validates; checked again when it is stored.
        self.admit(&config.name, &config)?;
        let secrets = config.secrets.clone();
        self.prepare_resolved(&mut config, pinned, validation)
            .await
            .map_err(|error| conceal_error(error, &secrets))
            .map(|(plugin, transforms, instance)| Prepared {
                config: Arc::new(config),
                plugin,
                transforms,
                instance: Some(instance),
            })
    }

    /// Parses a connector config, resolving its config-provider references (and its tenant's
    /// secrets) and applying its tenant's namespace and filesystem roots.
    fn parse_config(&self, settings: Settings) -> Result<ConnectorConfig, HerderError> {
        // The worker's config providers read the operator's files and environment: not for
        // tenants.
        if settings
            .get("name")
            .is_some_and(|name| self.tenant_of(name).is_some())
            && let Some((key, reference)) = self
                .services
                .worker
                .config_providers
                .first_reference(&settings)
        {
            return Err(HerderError::Validation(format!(
                "{key}: `{reference}` uses one of the worker's config providers, which read the \
                 operator's files and environment; a tenant's connector may not use them"
            )));
        }
        let owner = settings
            .get("name")
            .and_then(|name| self.tenant_of(name))
            .map(str::to_owned);
        let lookup = |name: &str| {
            let tenant = owner.as_deref().unwrap_or_default();
            self.tenants.secret_value(tenant, name)
        };
        let tenant_secrets: Option<&crate::config::providers::SecretLookup<'_>> =
            owner.as_ref().map(|_| &lookup as _);
        let mut config =
            ConnectorConfig::parse_resolving(settings, &self.services.worker, tenant_secrets)?;
        if let Some(tenant) = self.tenant_of(&config.name) {
            let tenant = self.tenants.get(tenant).ok_or_else(|| {
                HerderError::Validation(format!(
                    "the connector name `{}` names tenant `{tenant}`, which does not exist \
                     (a `/` separates a tenant from its connector's name)",
                    config.name
                ))
            })?;
            config.topic_namespace = Some(tenant.topic_prefixes.clone().into());
            let policy = tenant.fs_policy(&self.services.worker.fs);
            for key in ["sandbox.fs.read", "sandbox.fs.write"] {
                for dir in config.settings.list(key) {
                    policy
                        .check(key, std::path::Path::new(&dir))
                        .map_err(HerderError::Validation)?;
                }
            }
            config.fs_policy = Some(Arc::new(policy));
            config.tenant = Some(tenant.name.as_str().into());
        }
        Ok(config)
    }

    /// [`Self::prepare`] of a config whose references are resolved: errors may carry what
    /// they resolved to, which the caller conceals.
    async fn prepare_resolved(
        &self,
        config: &mut ConnectorConfig,
        pinned: Option<&PluginRef>,
        validation: Validation,
    ) -> Result<(Arc<Plugin>, Arc<TransformChain>, ConnectorInstance), HerderError> {
        let (plugin, transforms) = self.resolve_parts(config, pinned)?;
        // Validate with the connector itself, on the instance that will then be started.
        let (events_tx, _events_rx) = mpsc::unbounded_channel();
        let mut instance = plugin
            .connector(connector_context(config, &self.services, events_tx))
            .await
            .map_err(instance_error)?;
        let results = match validation {
            Validation::Full => instance
                .validate(&config.settings)
                .await
                .map_err(|error| HerderError::Validation(error.to_string()))?,
            Validation::Framework => Vec::new(),
        };
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
        if transforms.has_plugins() {
            errors.extend(
                transforms
                    .validate_plugins({
                        let mut context = validation_context(&config.name, &self.services);
                        context.secrets = config.secrets.clone();
                        context
                    })
                    .await,
            );
        }
        if !errors.is_empty() {
            return Err(HerderError::Invalid(errors));
        }
        Ok((plugin, transforms, instance))
    }

    /// A connector's plugin (exactly `pinned`, if given) and transform chain, with the
    /// checks that need the plugin (its kind, a built-in file connector's directory) and its
    /// memory cap sized to it.
    fn resolve_parts(
        &self,
        config: &mut ConnectorConfig,
        pinned: Option<&PluginRef>,
    ) -> Result<(Arc<Plugin>, Arc<TransformChain>), HerderError> {
        let tenant = self.tenant_of(&config.name);
        let transforms = Arc::new(
            TransformChain::from_settings_with(&config.settings, &self.transform_plugins(tenant))
                .map_err(|error| ConfigError::Other(error.to_string()))?,
        );
        let plugin = match pinned {
            Some(pin) => self.registry.resolve_pinned_in(tenant, pin)?,
            None => {
                self.registry
                    .resolve_in(tenant, &config.class, config.plugin_version.as_deref())?
            }
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
        if let Some(refused) =
            self.file_grant_refused(&plugin, &config.settings, config.fs(&self.services.worker))
        {
            return Err(HerderError::Validation(refused));
        }
        config.sandbox.memory_max_bytes = memory_cap_for(
            &plugin.info,
            config.sandbox.memory_max_bytes,
            config.settings.contains_key("sandbox.memory.max.bytes"),
            self.services.worker.sandbox_max.memory_max_bytes,
        )
        .map_err(HerderError::Validation)?;
        Ok((plugin, transforms))
    }

    /// Checks a connector against its tenant's namespace and quotas (nothing for connectors
    /// of no tenant): every topic it names lies in the tenant's topic prefixes, and with it
    /// the tenant stays within `quotas.connectors` and `quotas.tasks` (the sum of its
    /// connectors' `tasks.max`). A replaced connector's old config does not count.
    fn admit(&self, name: &str, config: &ConnectorConfig) -> Result<(), HerderError> {
        let Some(tenant_name) = self.tenant_of(name) else {
            return Ok(());
        };
        let Some(tenant) = self.tenants.get(tenant_name) else {
            return Err(HerderError::Validation(format!(
                "tenant `{tenant_name}` does not exist"
            )));
        };
        let prefixes = tenant.topic_prefixes.join(",");
        let settings = &config.settings;
        let mut named: Vec<(&str, String)> = config
            .topics
            .iter()
            .map(|topic| ("topics", topic.clone()))
            .collect();
        for key in ["topic", "errors.deadletterqueue.topic.name"] {
            if let Some(topic) = settings.get(key).filter(|t| !t.trim().is_empty()) {
                named.push((key, topic.trim().to_owned()));
            }
        }
        for (key, topic) in named {
            if !tenant.owns_topic(&topic) {
                return Err(HerderError::Validation(format!(
                    "{key}: topic `{topic}` is outside tenant {tenant_name}'s topics (prefixes \
                     {prefixes}); name a topic that starts with one of them"
                )));
            }
        }
        if let Some(regex) = &config.topics_regex
            && !tenant.owns_topic_regex(regex)
        {
            return Err(HerderError::Validation(format!(
                "topics.regex: `{regex}` may match topics outside tenant {tenant_name}'s topics \
                 (prefixes {prefixes}); start it with one of them, written literally (e.g. \
                 `{}.*`)",
                regex::escape(tenant.topic_prefixes.first().map_or("", String::as_str))
            )));
        }
        if let Some(egress) = &config.egress
            && let Some(rule) = tenant.egress_outside(&egress.allow)
        {
            return Err(HerderError::Validation(format!(
                "sandbox.http.allow: `{rule}` is outside tenant {tenant_name}'s egress ceiling \
                 (egress.allow={}); allow only hosts inside it",
                tenant.egress_allow.join(",")
            )));
        }
        if let Some(tcp) = &config.tcp
            && let Some(rule) = tenant.tcp_outside(&tcp.allow)
        {
            return Err(HerderError::Validation(format!(
                "sandbox.tcp.allow: `{rule}` is outside tenant {tenant_name}'s TCP ceiling \
                 (egress.tcp={}); allow only destinations inside it",
                tenant.tcp_allow.join(",")
            )));
        }
        let usage = self.tenant_usage(tenant_name, Some(name));
        let quotas = &tenant.quotas;
        let memory = instance_memory(config);
        if let Some(max) = quotas.memory_bytes
            && usage.memory_bytes + memory > max
        {
            return Err(HerderError::Quota(format!(
                "the connector's {} instances of up to {memory} bytes in all (sandbox.memory.max.bytes × \
                 (tasks.max + 1)) would take tenant {tenant_name} over its quota of {max} bytes \
                 (quotas.memory_bytes; {} in use); lower sandbox.memory.max.bytes or tasks.max",
                config.tasks_max + 1,
                usage.memory_bytes
            )));
        }
        if let Some(max) = quotas.connectors
            && usage.connectors + 1 > max
        {
            return Err(HerderError::Quota(format!(
                "tenant {tenant_name} is at its quota of {max} connectors (quotas.connectors; \
                 {} in use); delete one or ask the operator to raise it",
                usage.connectors
            )));
        }
        if let Some(max) = quotas.tasks
            && usage.tasks + config.tasks_max > max
        {
            return Err(HerderError::Quota(format!(
                "tasks.max={} would take tenant {tenant_name} over its quota of {max} tasks \
                 (quotas.tasks; {} in use); lower tasks.max or ask the operator to raise it",
                config.tasks_max, usage.tasks
            )));
        }
        Ok(())
    }

    /// The tenant owning connector `name`: none with tenancy off (a `/` is then just part of
    /// a name).
    pub fn tenant_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        if !self.tenants.enabled() {
            return None;
        }
        tenancy::split(name).map(|(tenant, _)| tenant)
    }

    /// What tenant `tenant`'s connectors use, leaving out `except`.
    pub fn tenant_usage(&self, tenant: &str, except: Option<&str>) -> tenancy::Usage {
        let mut usage = tenancy::Usage::default();
        for name in self.desired.names() {
            if Some(name.as_str()) == except
                || tenancy::split(&name).is_none_or(|(owner, _)| owner != tenant)
            {
                continue;
            }
            if let Some(desired) = self.desired.get(&name) {
                usage.connectors += 1;
                usage.tasks += desired.config.tasks_max;
                usage.memory_bytes += instance_memory(&desired.config);
            }
        }
        usage
    }

    /// Starts the actor of a prepared connector and records it as running here. The receiver
    /// completes once the connector started and generated its first tasks.
    fn start(
        &self,
        name: &str,
        prepared: Prepared,
        target: TargetState,
        units: Option<Units>,
    ) -> oneshot::Receiver<()> {
        let Prepared {
            config,
            plugin,
            transforms,
            instance,
        } = prepared;
        let builtin = self
            .registry
            .source_of(&plugin)
            .is_some_and(|source| source == PluginSource::Builtin);
        let shared = Arc::new(Shared::default());
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (started, started_rx) = oneshot::channel();
        let budget = self.tenant_of(name).map(|tenant| {
            let budget: Arc<dyn crate::runtime::ComputeBudget> = self.tenants.budget(tenant);
            budget
        });
        let http_connections = self
            .tenant_of(name)
            .and_then(|tenant| self.tenants.http_connections(tenant));
        let throughput = self.tenant_of(name).map(|tenant| {
            let budget: Arc<dyn crate::runtime::ComputeBudget> = self.tenants.throughput(tenant);
            budget
        });
        let actor = Actor {
            config,
            plugin,
            transforms,
            builtin,
            budget,
            http_connections,
            throughput,
            services: self.services.clone(),
            statuses: self.statuses.clone(),
            desired: self.desired.clone(),
            shared: shared.clone(),
            target,
            started: Some(started),
            units: units.clone(),
        };
        let join = tokio::spawn(actor.run(instance, commands_rx));
        self.running_map().insert(
            name.to_owned(),
            Running {
                units,
                commands,
                shared,
                join,
            },
        );
        started_rx
    }

    /// Stops a connector this worker runs (its tasks finish their current call, flush
    /// offsets and stop) and forgets it.
    async fn stop(&self, name: &str) {
        let running = self.running_map().remove(name);
        if let Some(running) = running {
            shutdown(running).await;
        }
    }

    fn running_map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs a plugin's own `validate` on a config that need not be complete (its references
    /// resolved to `secrets`), in a fresh connector instance (for `PUT /connector-plugins/{plugin}/config/validate`).
    pub async fn validate_with_connector(
        &self,
        plugin: &Arc<Plugin>,
        settings: &Settings,
        secrets: &Arc<Secrets>,
        tenant: Option<&str>,
    ) -> Result<Vec<ConfigValue>, HerderError> {
        let name = settings.get("name").map_or("validate", String::as_str);
        let mut context = validation_context(name, &self.services);
        context.secrets = secrets.clone();
        // `validate` may connect (e.g. a database connector checking its credentials), within
        // the same grant the connector would run with, and its tenant's ceiling.
        context.tcp = crate::config::tcp::tcp_policy(settings, &self.services.worker.tcp)
            .ok()
            .flatten()
            .filter(|policy| match tenant.and_then(|t| self.tenants().get(t)) {
                Some(tenant) => tenant.tcp_outside(&policy.allow).is_none(),
                None => tenant.is_none(),
            });
        let mut instance = plugin.connector(context).await.map_err(instance_error)?;
        let mut values = instance
            .validate(settings)
            .await
            .map_err(|error| HerderError::Validation(error.to_string()))?;
        // What create would refuse of a built-in file connector's `file`, on that field.
        let tenant_fs = tenant
            .and_then(|tenant| self.tenants().get(tenant))
            .map(|tenant| tenant.fs_policy(&self.services.worker.fs));
        let fs = tenant_fs.as_ref().unwrap_or(&self.services.worker.fs);
        if let Some(refused) = self.file_grant_refused(plugin, settings, fs) {
            // Shown on the field itself, without the key in front.
            let refused = refused
                .strip_prefix("file: ")
                .map_or(refused.clone(), str::to_owned);
            match values.iter_mut().find(|value| value.name == "file") {
                Some(value) => value.errors.push(refused),
                None => values.push(ConfigValue {
                    name: "file".into(),
                    value: settings.get("file").cloned(),
                    recommended_values: Vec::new(),
                    errors: vec![refused],
                    visible: true,
                }),
            }
        }
        Ok(values)
    }

    /// Why `fs` refuses a built-in file connector the directory of its `file` (which it is
    /// granted implicitly), if it does.
    fn file_grant_refused(
        &self,
        plugin: &Arc<Plugin>,
        settings: &Settings,
        fs: &crate::config::filesystem::FsPolicy,
    ) -> Option<String> {
        if self.registry.source_of(plugin) != Some(PluginSource::Builtin) {
            return None;
        }
        let dir = std::path::absolute(settings.get("file")?)
            .ok()?
            .parent()?
            .to_path_buf();
        fs.check("file", &dir).err()
    }

    /// Restarts a connector instance (`connector`) and/or some of its tasks (by id). The
    /// receiver completes when the restart was carried out.
    pub async fn restart(
        &self,
        name: &str,
        connector: bool,
        tasks: Vec<u32>,
    ) -> Result<oneshot::Receiver<()>, HerderError> {
        if !self.desired.contains(name) {
            return Err(HerderError::NotFound(name.to_owned()));
        }
        if let Some(store) = &self.distributed {
            // Every worker restarts what it runs of it, and shows it RESTARTING meanwhile.
            store.put_restart(name, connector, &tasks).await?;
            let (done, wait) = oneshot::channel();
            let _ = done.send(());
            return Ok(wait);
        }
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
        if let Some(running) = self.running_map().get(name) {
            let _ = running.commands.send(Command::Restart {
                connector,
                tasks,
                done,
            });
        }
        Ok(wait)
    }

    /// The target state of a connector.
    pub async fn target_state(&self, name: &str) -> Option<TargetState> {
        self.desired.get(name).map(|desired| desired.target)
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
        let _guard = self.locks.lock(name).await;
        if !self.desired.contains(name) {
            return Err(HerderError::NotFound(name.to_owned()));
        }
        self.desired.remove(name).await?;
        if self.is_distributed() {
            // Every worker stops what it runs of it when it reads the removal.
            self.sync_desired().await;
            return Ok(());
        }
        self.stop(name).await;
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
        let _guard = self.locks.lock(name).await;
        let desired = self
            .desired
            .get(name)
            .ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        if desired.target != target {
            self.desired.put_target_state(name, target).await?;
        }
        if self.is_distributed() {
            // Every worker running some of it applies it when it reads it.
            self.sync_desired().await;
            return Ok(());
        }
        if let Some(running) = self.running_map().get(name) {
            let _ = running.commands.send(Command::SetTarget(target));
        }
        Ok(())
    }

    pub async fn connector_names(&self) -> Vec<String> {
        self.desired.names()
    }

    pub async fn connector_config(&self, name: &str) -> Option<Arc<ConnectorConfig>> {
        self.desired.get(name).map(|desired| desired.config)
    }

    pub fn status(&self, name: &str) -> Option<ConnectorStatus> {
        self.statuses.get(name)
    }

    /// The current task configs of a connector, as stored.
    pub async fn task_configs(&self, name: &str) -> Option<Vec<ConfigMap>> {
        self.desired.get(name).map(|desired| desired.tasks)
    }

    /// The counters of a connector's current tasks, by task id.
    pub async fn task_metrics(&self, name: &str) -> Vec<Arc<TaskMetrics>> {
        self.running_map()
            .get(name)
            .map(|running| running.shared.metrics.lock().expect("lock").clone())
            .unwrap_or_default()
    }

    /// Stops every connector gracefully: tasks finish their current call, flush offsets and
    /// stop.
    pub async fn shutdown(&self) {
        let running: Vec<Running> = std::mem::take(&mut *self.running_map())
            .into_values()
            .collect();
        futures::future::join_all(running.into_iter().map(shutdown)).await;
    }
}

async fn shutdown(running: Running) {
    let (done, wait) = oneshot::channel();
    if running.commands.send(Command::Shutdown(done)).is_ok() {
        let _ = wait.await;
    }
    let _ = running.join.await;
}

/// The most memory a connector's instances may hold: its cap for the connector and each of its
/// `tasks.max` tasks.
fn instance_memory(config: &ConnectorConfig) -> u64 {
    config.sandbox.memory_max_bytes as u64 * (u64::from(config.tasks_max) + 1)
}

/// `error` with every value config-provider references brought in put back as its reference
/// (a guest's validation message may echo a value it was given).
fn conceal_error(error: HerderError, secrets: &Secrets) -> HerderError {
    if secrets.is_empty() {
        return error;
    }
    match error {
        HerderError::Config(error) => HerderError::Config(error.concealed(secrets)),
        HerderError::Invalid(errors) => HerderError::Invalid(
            errors
                .iter()
                .map(|e| secrets.conceal(e).into_owned())
                .collect(),
        ),
        HerderError::Validation(message) => {
            HerderError::Validation(secrets.conceal(&message).into_owned())
        }
        other => other,
    }
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
