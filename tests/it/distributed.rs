//! Distributed mode: several `wasm-connect distributed` processes on one librdkafka
//! MockCluster share the connectors; configs, offsets and statuses live in its topics.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use hyper::StatusCode;
use rdkafka::mocking::MockCluster;
use serde_json::{Value, json};
use wasm_connect_tests::child::ChildWorker;

/// A mock Kafka cluster with a distributed cluster's internal topics.
struct Kafka {
    cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    group: String,
}

impl Kafka {
    fn new(group: &str) -> Self {
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
        }
    }

    /// A worker's settings.
    fn settings(&self) -> Vec<(String, String)> {
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
            ("session.timeout.ms", "6000".into()),
            ("heartbeat.interval.ms", "1000".into()),
            ("consumer.session.timeout.ms", "6000".into()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// A worker, once it runs its first assignment.
    async fn worker(&self) -> ChildWorker {
        let settings = self.settings();
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
async fn ready(worker: &ChildWorker) {
    eventually(
        Duration::from_secs(60),
        "the worker joins its cluster",
        async || {
            let reply = worker.rest.get("/health").await;
            if reply.status == StatusCode::OK {
                Ok(())
            } else {
                Err(format!("{}: {}", reply.status, reply.body))
            }
        },
    )
    .await
}

/// Polls `probe` every 200 ms until it returns Some, or panics naming `what` with the last
/// value seen.
async fn eventually<T>(
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
fn datagen(topic: &str, tasks: u32) -> Value {
    json!({
        "connector.class": "DatagenSource",
        "tasks.max": tasks.to_string(),
        "topic": topic,
        "rate": "10",
    })
}

/// Worker ids running each connector instance and task, from `worker`'s statuses, once
/// every one of `names` is RUNNING with `tasks` tasks.
async fn placement(
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
fn shares(placed: &BTreeMap<String, (String, Vec<String>)>) -> BTreeMap<String, (usize, usize)> {
    let mut shares: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (connector, tasks) in placed.values() {
        shares.entry(connector.clone()).or_default().0 += 1;
        for task in tasks {
            shares.entry(task.clone()).or_default().1 += 1;
        }
    }
    shares
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_six_connectors_and_answer_alike() {
    let kafka = Kafka::new("share");
    let workers = [
        kafka.worker().await,
        kafka.worker().await,
        kafka.worker().await,
    ];
    let names: Vec<String> = (0..6).map(|i| format!("gen-{i}")).collect();
    for name in &names {
        // Through worker 2, whether or not it leads.
        let reply = workers[1]
            .rest
            .post(
                "/connectors",
                &json!({"name": name, "config": datagen(name, 3)}),
            )
            .await;
        if reply.status != StatusCode::CREATED {
            for worker in &workers {
                eprintln!("==== {}", worker.log_text());
            }
        }
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let placed = eventually(
        Duration::from_secs(60),
        "six connectors of three tasks running",
        async || {
            let placed = placement(&workers[0], &names, 3).await?;
            let shares = shares(&placed);
            if shares.len() == 3 {
                Ok(placed)
            } else {
                Err(format!("{shares:?}"))
            }
        },
    )
    .await;
    let shares = shares(&placed);
    for (worker, (connectors, tasks)) in &shares {
        assert_eq!((*connectors, *tasks), (2, 6), "{worker}: {shares:?}");
    }
    // Every worker answers alike: the same config and the same status.
    for name in &names {
        let config = workers[1]
            .rest
            .get(&format!("/connectors/{name}/config"))
            .await
            .body;
        for worker in [&workers[0], &workers[2]] {
            assert_eq!(
                worker
                    .rest
                    .get(&format!("/connectors/{name}/config"))
                    .await
                    .body,
                config
            );
            let status = eventually(
                Duration::from_secs(10),
                "the same status everywhere",
                async || {
                    let mine = worker
                        .rest
                        .get(&format!("/connectors/{name}/status"))
                        .await
                        .body;
                    let theirs = workers[1]
                        .rest
                        .get(&format!("/connectors/{name}/status"))
                        .await
                        .body;
                    if mine == theirs {
                        Ok(mine)
                    } else {
                        Err(format!("{mine} vs {theirs}"))
                    }
                },
            )
            .await;
            assert_eq!(status["connector"]["state"], "RUNNING");
        }
    }
    let listed = workers[2].rest.get("/connectors").await.body;
    assert_eq!(listed.as_array().map(Vec::len), Some(6), "{listed}");
}
