//! The composition root of a standalone worker: from its validated settings, the record log
//! (Kafka when `bootstrap.servers` is set, else the embedded log), the file-backed config and
//! offset stores, the in-memory status store, the wasm runtime and the plugin registry (built
//! in, `plugin.path` and uploads), put together into a [`Herder`]. The only place that builds
//! them; the herder and the task loops get them handed in.

use std::{collections::BTreeMap, sync::Arc};

use anyhow::Context as _;

use crate::{
    config::{WorkerConfig, worker::LogBackend},
    coordinator::{Herder, HerderParts},
    log::{
        RecordLog,
        embedded::EmbeddedLog,
        kafka::{KafkaLog, KafkaSettings},
    },
    plugins::PluginRegistry,
    runtime::{Runtime, RuntimeConfig},
    storage::{FileConfigStore, FileOffsetStore, MemoryStatusStore},
    tenancy::Tenants,
};

/// A standalone worker on the log its settings name.
pub async fn start(worker: WorkerConfig) -> anyhow::Result<Herder> {
    let log = open_log(&worker)?;
    start_with_log(worker, log).await
}

/// A standalone worker on a log of the caller's choosing (e.g. Kafka on a MockCluster), with
/// its plugins loaded.
pub async fn start_with_log(
    worker: WorkerConfig,
    log: Arc<dyn RecordLog>,
) -> anyhow::Result<Herder> {
    let herder = assemble(worker, log).await?;
    herder
        .load_plugins()
        .await
        .context("failed to load the built-in connectors")?;
    Ok(herder)
}

/// A standalone worker whose plugins are not loaded yet: the binary serves REST with it at
/// once and then calls [`Herder::load_plugins`].
pub async fn assemble(worker: WorkerConfig, log: Arc<dyn RecordLog>) -> anyhow::Result<Herder> {
    let offsets = Arc::new(FileOffsetStore::open(&worker.offset_file)?);
    let configs = Arc::new(FileConfigStore::open(&worker.data_dir)?);
    let statuses = Arc::new(MemoryStatusStore::new(worker.worker_id.clone()));
    let registry = plugin_registry(&worker)?;
    let tenants = Arc::new(Tenants::load(worker.tenancy.clone(), configs.clone()).await?);
    Ok(Herder::new(HerderParts {
        worker,
        log,
        offsets,
        configs,
        statuses,
        registry,
        tenants,
        distributed: None,
    }))
}

/// The record log the settings name: Kafka with the worker's client settings, or the
/// embedded log.
pub fn open_log(worker: &WorkerConfig) -> anyhow::Result<Arc<dyn RecordLog>> {
    Ok(match &worker.log {
        LogBackend::Embedded { dir } => {
            Arc::new(EmbeddedLog::open_with_cache(dir, worker.log_cache_bytes)?)
        }
        LogBackend::Kafka { bootstrap_servers } => {
            Arc::new(KafkaLog::new(kafka_settings(worker, bootstrap_servers))?)
        }
    })
}

/// The Kafka client settings of a worker on `bootstrap_servers`: its `producer.`,
/// `consumer.` and `admin.` settings.
pub fn kafka_settings(worker: &WorkerConfig, bootstrap_servers: &str) -> KafkaSettings {
    let mut settings = KafkaSettings::new(BTreeMap::from([(
        "bootstrap.servers".to_owned(),
        bootstrap_servers.to_owned(),
    )]));
    settings.admin = worker.client_settings("admin.");
    settings.producer = worker.client_settings("producer.");
    settings.consumer = worker.client_settings("consumer.");
    settings
}

/// The wasm runtime with the worker's sandbox settings, and a registry of no plugins yet
/// ([`Herder::load_plugins`] loads the built-ins, `plugin.path` and earlier uploads).
pub fn plugin_registry(worker: &WorkerConfig) -> anyhow::Result<PluginRegistry> {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(worker.cache_dir.clone()),
        function_cache_max_bytes: worker.function_cache_max_bytes,
        max_component_bytes: worker.plugin_max_bytes,
        baseline_min_bytes: worker.baseline_min_bytes,
        metering: worker.metering,
        throttle_after: worker.throttle_after,
        limits: worker.host_limits,
        layout: worker.instance_layout,
        memory_max_bytes: worker.sandbox_max.memory_max_bytes,
        ..RuntimeConfig::default()
    })?;
    let capacity = runtime.capacity().report();
    tracing::info!(
        instances_max = capacity.instances_max,
        limited_by = %capacity.limited_by,
        mappings_per_instance = capacity.mappings_per_instance,
        "Wasm instance capacity."
    );
    if let Some(warning) = runtime.capacity().overcommit_warning() {
        tracing::warn!("{warning}");
    }
    for provider in worker.config_providers.unrestricted() {
        tracing::warn!(
            "Config provider `{provider}` has no allowed.paths: any connector config may \
             read any file this worker can (outside /proc, /sys, /dev and the worker's own \
             files) and hand it to its connector. Set \
             config.providers.{provider}.param.allowed.paths on a shared worker."
        );
    }
    Ok(PluginRegistry::new(runtime))
}
