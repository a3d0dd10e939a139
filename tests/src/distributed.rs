//! Distributed-mode harness shared by the tests and the benchmark: a librdkafka MockCluster
//! with a cluster's internal topics, worker processes on it, and what they report (who runs
//! what, who leads).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use hyper::StatusCode;
use rdkafka::mocking::MockCluster;
use serde_json::{Value, json};

use crate::child::ChildWorker;

/// A mock Kafka cluster with a distributed cluster's internal topics.
pub struct Kafka {
    pub cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    pub group: String,
    pub session_timeout_ms: u32,
    pub heartbeat_interval_ms: u32,
}

impl Kafka {
    pub fn new(group: &str) -> Self {
        let cluster = MockCluster::new(1).expect("mock cluster");
        // MockCluster has no CreateTopics: the internal topics are made on it.
        cluster
            .create_topic(&format!("{group}-configs"), 1, 1)
            .unwrap();
        cluster
            .create_topic(&format!("{group}-offsets"), 5, 1)
            .unwrap();
        cluster
            .create_topic(&format!("{group}-status"), 5, 1)
            .unwrap();
        cluster
            .create_topic(&format!("{group}-cluster"), 1, 1)
            .unwrap();
        Self {
            cluster,
            group: group.to_owned(),
            session_timeout_ms: 6_000,
            heartbeat_interval_ms: 1_000,
        }
    }

    /// A worker's settings.
    pub fn settings(&self) -> Vec<(String, String)> {
        let group = &self.group;
        [
            ("bootstrap.servers", self.cluster.bootstrap_servers()),
            ("group.id", group.clone()),
            ("config.storage.topic", format!("{group}-configs")),
            ("offset.storage.topic", format!("{group}-offsets")),
            ("status.storage.topic", format!("{group}-status")),
            ("config.storage.replication.factor", "1".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("status.storage.replication.factor", "1".into()),
            ("cluster.storage.replication.factor", "1".into()),
            ("session.timeout.ms", self.session_timeout_ms.to_string()),
            (
                "heartbeat.interval.ms",
                self.heartbeat_interval_ms.to_string(),
            ),
            ("consumer.session.timeout.ms", "6000".into()),
            // The mock cluster answers a fetch with no data only when fetch.wait.max.ms is up
            // (a broker answers as soon as data arrives): keep each hop through an internal
            // topic short, as it is on a real cluster.
            ("consumer.fetch.wait.max.ms", "20".into()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// A worker, once it runs its first assignment.
    pub async fn worker(&self) -> ChildWorker {
        self.worker_with(&[]).await
    }

    /// [`Self::worker`] with `extra` worker settings.
    pub async fn worker_with(&self, extra: &[(&str, &str)]) -> ChildWorker {
        let mut settings = self.settings();
        settings.extend(
            extra
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        );
        let pairs: Vec<(&str, &str)> = settings
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let worker = ChildWorker::start_distributed(&pairs).await;
        ready(&worker).await;
        worker
    }
}

/// Waits until `worker` answers `GET /health` with 200 (it runs its cluster's assignment).
///
/// Up to 120 s: a restart can wait for the cluster to have a leader again, and when the
/// stopped leader's LeaveGroup is held behind a JoinGroup in flight (librdkafka sends one
/// coordinator request at a time), the group drops it only after its session timeout and the
/// rebalance that follows, which on a loaded 2-core machine has taken more than 60 s.
pub async fn ready(worker: &ChildWorker) {
    const READY_WITHIN: Duration = Duration::from_secs(120);
    let start = Instant::now();
    loop {
        let reply = worker.rest.get("/health").await;
        if reply.status == StatusCode::OK {
            return;
        }
        assert!(
            start.elapsed() < READY_WITHIN,
            "the worker did not join its cluster within {READY_WITHIN:?}: {}: {}\n{}",
            reply.status,
            reply.body,
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `probe` every 200 ms until it returns Some, or panics naming `what` with the last
/// value seen.
pub async fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(
                    start.elapsed() < timeout,
                    "{what} within {timeout:?}; last: {last}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A datagen connector of `tasks` tasks writing 10 records a second per task.
pub fn datagen(topic: &str, tasks: u32) -> Value {
    json!({
        "connector.class": "DatagenSource",
        "tasks.max": tasks.to_string(),
        "topic": topic,
        "rate": "10",
    })
}

/// Worker ids running each connector instance and task, from `worker`'s statuses, once
/// every one of `names` is RUNNING with `tasks` tasks.
pub async fn placement(
    worker: &ChildWorker,
    names: &[String],
    tasks: usize,
) -> Result<BTreeMap<String, (String, Vec<String>)>, String> {
    let mut placed = BTreeMap::new();
    for name in names {
        let reply = worker.rest.get(&format!("/connectors/{name}/status")).await;
        let body = reply.body;
        if body["connector"]["state"] != "RUNNING" {
            return Err(format!("{name}: {body}"));
        }
        let task_list = body["tasks"].as_array().cloned().unwrap_or_default();
        if task_list.len() != tasks || task_list.iter().any(|task| task["state"] != "RUNNING") {
            return Err(format!("{name}: {body}"));
        }
        placed.insert(
            name.clone(),
            (
                body["connector"]["worker_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                task_list
                    .iter()
                    .map(|task| task["worker_id"].as_str().unwrap_or_default().to_owned())
                    .collect(),
            ),
        );
    }
    Ok(placed)
}

/// (connectors, tasks) per worker id.
pub fn shares(
    placed: &BTreeMap<String, (String, Vec<String>)>,
) -> BTreeMap<String, (usize, usize)> {
    let mut shares: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (connector, tasks) in placed.values() {
        shares.entry(connector.clone()).or_default().0 += 1;
        for task in tasks {
            shares.entry(task.clone()).or_default().1 += 1;
        }
    }
    shares
}

/// The worker id of a worker (`127.0.0.1:<port>`).
pub fn worker_id(worker: &ChildWorker) -> String {
    worker.rest.base.trim_start_matches("http://").to_owned()
}

/// `GET /admin/cluster` of a worker.
pub async fn cluster_view(worker: &ChildWorker) -> Value {
    worker.rest.get("/admin/cluster").await.body
}

/// The index of the worker that leads, as `observer` sees it.
pub async fn leader_index(workers: &[ChildWorker], observer: &ChildWorker) -> usize {
    let view = cluster_view(observer).await;
    let leader = view["leader"].as_str().unwrap_or_default().to_owned();
    workers
        .iter()
        .position(|worker| worker_id(worker) == leader)
        .unwrap_or_else(|| panic!("no worker leads: {view}"))
}
