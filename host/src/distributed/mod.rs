//! Distributed mode: several workers on one Kafka cluster share the connectors. The
//! composition root of a distributed worker ([`assemble`]): its internal topics (made or
//! checked), the Kafka-topic stores, its membership in the worker group and the cluster
//! driver, put together with the same runtime, registry and herder a standalone worker has.
//!
//! - `config`: the worker's distributed settings (Kafka Connect's keys).
//! - `assignor`: the leader's balanced, sticky assignment (pure).
//! - `membership`: leader election through a Kafka consumer group.
//! - `cluster`: heartbeats, publishing and applying assignments, fencing.
//! - `plugins`: uploaded components shared through the cluster topic.

pub mod assignor;
pub mod cluster;
pub mod config;
pub mod membership;
pub mod plugins;

use std::sync::{Arc, atomic::AtomicI64};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

pub use self::config::DistributedConfig;
use crate::{
    config::{WorkerConfig, worker::LogBackend},
    coordinator::{Herder, HerderParts},
    log::{RecordLog, kafka::KafkaSettings},
    storage::{
        kafka_config::{ConfigEvent, KafkaConfigStore},
        kafka_offsets::KafkaOffsetStore,
        kafka_status::KafkaStatusStore,
        topic::{self, TopicSpec},
    },
    tenancy::Tenants,
};

/// A distributed worker, assembled and not yet running its share.
pub struct DistributedWorker {
    pub herder: Herder,
    pub config: DistributedConfig,
    cluster: cluster::Cluster,
    membership: membership::Membership,
    events: tokio::sync::mpsc::UnboundedReceiver<ConfigEvent>,
    restarts_from: i64,
}

impl DistributedWorker {
    /// Runs this worker's share of the cluster until `stop`, then stops what it runs.
    pub async fn run(self, stop: CancellationToken) {
        let Self {
            cluster,
            membership,
            events,
            restarts_from,
            ..
        } = self;
        cluster.run(events, restarts_from, stop).await;
        drop(membership);
    }
}

/// Builds a distributed worker: checks its settings, makes or checks the internal topics,
/// reads them, and joins the worker group. `url` is this worker's REST URL as the others
/// reach it.
pub async fn assemble(
    worker: WorkerConfig,
    log: Arc<dyn RecordLog>,
    url: String,
) -> anyhow::Result<DistributedWorker> {
    let config = DistributedConfig::from_settings(&worker.raw)
        .context("invalid distributed worker settings")?;
    let LogBackend::Kafka { bootstrap_servers } = &worker.log else {
        anyhow::bail!(
            "distributed mode needs `bootstrap.servers`: the cluster keeps its state in Kafka"
        );
    };
    let kafka = crate::standalone::kafka_settings(&worker, bootstrap_servers);
    let specs: Vec<TopicSpec> = [
        &config.config_topic,
        &config.offset_topic,
        &config.status_topic,
        &config.cluster_topic,
    ]
    .into_iter()
    .map(|settings| TopicSpec {
        name: settings.name.clone(),
        key: settings.key,
        partitions: settings.partitions,
        single_partition: settings.key == "config.storage.topic"
            || settings.key == "cluster.storage.topic",
        replication_factor: settings.replication_factor,
        configs: settings.configs.clone(),
    })
    .collect();
    let partitions =
        futures::future::try_join_all(specs.iter().map(|spec| topic::ensure(&kafka, spec))).await?;
    let timeout = config.worker_sync_timeout;
    let worker_id = worker.worker_id.clone();
    let configs = Arc::new(KafkaConfigStore::open(
        &kafka,
        &config.config_topic.name,
        &format!("{worker_id}-configs"),
        timeout,
    )?);
    let events = configs.subscribe();
    let generation = Arc::new(AtomicI64::new(-1));
    let offsets = Arc::new(KafkaOffsetStore::open(
        &kafka,
        &config.offset_topic.name,
        partitions[1],
        &format!("{worker_id}-offsets"),
        timeout,
    )?);
    let statuses = Arc::new(KafkaStatusStore::open(
        &kafka,
        &config.status_topic.name,
        partitions[2],
        worker_id.clone(),
        generation.clone(),
        timeout,
    )?);
    read_at_start("the config topic", || configs.read_to_end()).await?;
    read_at_start("the offsets topic", || {
        use crate::storage::OffsetBackingStore as _;
        offsets.sync()
    })
    .await?;
    read_at_start("the status topic", || statuses.read_to_end()).await?;
    let restarts_from = configs.offset();
    let registry = crate::standalone::plugin_registry(&worker)?;
    let tenants = Arc::new(Tenants::load(worker.tenancy.clone(), configs.clone()).await?);
    let member = membership::Membership::join(membership::MemberSettings {
        kafka: &kafka,
        group_id: &config.group_id,
        worker_id: &worker_id,
        topic: &config.cluster_topic.name,
        session_timeout: config.session_timeout,
        heartbeat_interval: config.heartbeat_interval,
        rebalance_timeout: config.rebalance_timeout,
    })
    .context("failed to join the worker group")?;
    let herder = Herder::new(HerderParts {
        worker,
        log,
        offsets,
        configs: configs.clone(),
        statuses,
        registry,
        tenants,
        distributed: Some(configs.clone()),
    });
    let cluster = cluster::Cluster::open(
        cluster::ClusterSettings {
            worker_id,
            url,
            session_timeout: config.session_timeout,
            heartbeat_interval: config.heartbeat_interval,
            scheduled_rebalance_max_delay: config.scheduled_rebalance_max_delay,
            topic: config.cluster_topic.name.clone(),
            timeout,
        },
        &kafka,
        herder.clone(),
        configs,
        member.leader(),
        generation,
    )?;
    Ok(DistributedWorker {
        herder,
        config,
        cluster,
        membership: member,
        events,
        restarts_from,
    })
}

/// Reads an internal topic to its end at start, retrying for a minute (the cluster may be
/// starting too).
async fn read_at_start<F, Fut, E>(what: &str, mut read: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match read().await {
            Ok(()) => return Ok(()),
            Err(error) if std::time::Instant::now() < deadline => {
                tracing::warn!(error = %error, "Could not read {what} yet; retrying.");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(error) => {
                return Err(anyhow::Error::new(error).context(format!("failed to read {what}")));
            }
        }
    }
}

/// The Kafka settings a distributed worker's internal clients use (for tests and tools).
pub fn internal_kafka_settings(worker: &WorkerConfig) -> Option<KafkaSettings> {
    match &worker.log {
        LogBackend::Kafka { bootstrap_servers } => {
            Some(crate::standalone::kafka_settings(worker, bootstrap_servers))
        }
        LogBackend::Embedded { .. } => None,
    }
}
